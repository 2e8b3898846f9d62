"""BuildKit's parser corpus: dumps byte for byte, negative cases, line numbers, heredocs."""

from __future__ import annotations

import json

import pytest

from imgtool.dockerfile import DockerfileError, dump, parse_nodes

from tests.conftest import shared

from .corpus import read_text

PARSER = shared("conformance", "buildkit-parser")
POSITIVE = sorted(p.name for p in (PARSER / "testfiles").iterdir())
NEGATIVE = sorted(p.name for p in (PARSER / "testfiles-negative").iterdir())
HEREDOC = json.loads((PARSER / "derived" / "heredoc" / "expected.json").read_text())["expected"]


def test_corpus_is_complete() -> None:
    assert (len(POSITIVE), len(NEGATIVE), len(HEREDOC)) == (33, 4, 27)


@pytest.mark.parametrize("case", POSITIVE)
def test_dump_matches_buildkit(case: str) -> None:
    text = read_text(PARSER / "testfiles" / case / "Dockerfile")
    assert dump(parse_nodes(text).nodes) == read_text(PARSER / "testfiles" / case / "result")


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case_is_rejected(case: str) -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:\d+: "):
        parse_nodes(read_text(PARSER / "testfiles-negative" / case / "Dockerfile"))


def test_line_numbers() -> None:
    result = parse_nodes(read_text(PARSER / "testfile-line" / "Dockerfile"))
    assert (result.start_line, result.end_line) == (5, 31)
    assert [(n.start_line, n.end_line) for n in result.nodes] == [(5, 5), (11, 12), (17, 31)]


_HEREDOC_NODES = parse_nodes(read_text(PARSER / "derived" / "heredoc" / "Dockerfile")).nodes


@pytest.mark.parametrize("index", range(len(HEREDOC)), ids=[e["comment"] for e in HEREDOC])
def test_heredoc(index: int) -> None:
    node = _HEREDOC_NODES[index + 1]
    got = [
        {"Name": h.name, "FileDescriptor": h.file_descriptor, "Expand": h.expand, "Chomp": h.chomp, "Content": h.content}
        for h in node.heredocs
    ]
    assert (got or None) == HEREDOC[index]["heredocs"]
