"""BuildKit's shell-lexer vectors: envVarTest, wordsTest and TestProcessWithMatches."""

from __future__ import annotations

import json

import pytest

from imgtool.dockerfile import ExpansionError, Lex

from tests.conftest import shared

SHELL = shared("conformance", "buildkit-shell")
ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_vectors() -> list:
    out = []
    for number, line in enumerate((SHELL / "envVarTest").read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        platform, source, expected = (field.strip() for field in line.split("|"))
        out.append(pytest.param(platform, source, expected, id=f"L{number}:{platform}|{source}"))
    return out


def _words_vectors() -> list:
    out, env = [], {}
    for number, line in enumerate((SHELL / "wordsTest").read_text(encoding="utf-8").split("\n"), 1):
        if not line or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, value = line[3:].lstrip(" ").split("=", 1)
            env = {**env, key: value}
            continue
        source, expected = line.split("|")
        out.append(pytest.param(source.strip(), expected.lstrip(" ").split(","), env, id=f"L{number}:{source.strip()}"))
    return out


ENV_VAR = _env_var_vectors()
WORDS = _words_vectors()
MATCHES = json.loads((SHELL / "derived" / "process_with_matches.json").read_text(encoding="utf-8"))["cases"]


def test_vector_counts() -> None:
    assert (len(ENV_VAR), len(WORDS), len(MATCHES)) == (230, 24, 47)


@pytest.mark.parametrize(("platform", "source", "expected"), ENV_VAR)
def test_env_var(platform: str, source: str, expected: str) -> None:
    # A and U vectors run as on Linux; W vectors (and A again) as on Windows: names ignore case
    modes = {"A": (False, True), "U": (False,), "W": (True,)}[platform]
    for windows in modes:
        lex = Lex(case_insensitive_keys=windows)
        if expected == "error":
            with pytest.raises(ExpansionError):
                lex.process_word(source, ENV)
        else:
            assert lex.process_word(source, ENV) == expected


@pytest.mark.parametrize(("source", "expected", "env"), WORDS)
def test_words(source: str, expected: list[str], env: dict[str, str]) -> None:
    if expected == ["error"]:
        with pytest.raises(ExpansionError):
            Lex().process_words(source, env)
    else:
        assert Lex().process_words(source, env) == expected


@pytest.mark.parametrize("case", MATCHES, ids=[c["input"] for c in MATCHES])
def test_process_with_matches(case: dict) -> None:
    if case["expectedErr"]:
        with pytest.raises(ExpansionError):
            Lex().process_with_matches(case["input"], case["envs"])
        return
    result = Lex().process_with_matches(case["input"], case["envs"])
    assert result.word == case["expected"]
    assert sorted(result.matched) == case["matches"]
    assert sorted(result.unmatched) == case["unmatched"]
