"""Properties: arbitrary text only ever raises DockerfileError; dumps survive a normalised re-print;
hostile inputs finish quickly."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from imgtool.dockerfile import DockerfileError, Lex, PatternMatcher, dump, parse, parse_nodes
from imgtool.dockerfile.nodes import Node

ALPHABET = st.sampled_from(list("FROMRUNCOPYENVARGonbuild \t\n\\`\"'$={}[]<<-#:,/*?!EOF0123") + ["\r", "é", "\x00"])
TEXT = st.lists(ALPHABET, max_size=200).map("".join)
KEYWORD = st.sampled_from(["FROM", "RUN", "CMD", "COPY", "ADD", "ENV", "LABEL", "ARG", "EXPOSE", "WORKDIR", "ONBUILD RUN"])
LINE = st.tuples(KEYWORD, st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_parse_raises_only_its_own_error(text: str) -> None:
    try:
        parse(text)
    except DockerfileError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.dictionaries(st.sampled_from(["A", "B", "EOF"]), st.text(max_size=5)))
def test_lexer_raises_only_its_own_error(text: str, env: dict[str, str]) -> None:
    try:
        Lex().process_words(text, env)
    except DockerfileError:
        pass


def _normalised(node: Node) -> str:
    """Re-print one node as a single canonical line (JSON forms as JSON, others as parsed)."""
    head = " ".join([node.value, *node.flags])
    if node.sub is not None:
        return f"{head} {_normalised(node.sub)}"
    if node.is_json:
        prefix = node.args[:1] if node.keyword == "healthcheck" else ()
        return " ".join([head, *prefix, json.dumps(list(node.args[len(prefix) :]))])
    if node.keyword in ("env", "label"):
        pairs = [node.args[i : i + 3] for i in range(0, len(node.args), 3)]
        return head + " " + " ".join(f"{k}={v}" if sep else f"{k} {v}" for k, v, sep in pairs)
    return head + (" " + " ".join(node.args) if node.args else "")


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=8))
def test_dump_is_stable_under_reprint(lines: list[str]) -> None:
    text = "\n".join(line.replace("\\", "/").replace("`", "'") for line in lines) + "\n"
    try:
        first = parse_nodes(text)
    except DockerfileError:
        return
    if any(n.heredocs for n in first.nodes):
        return
    reprinted = "".join(_normalised(n) + "\n" for n in first.nodes)
    assert dump(parse_nodes(reprinted).nodes) == dump(first.nodes)


def test_hostile_inputs_finish_quickly() -> None:
    start = time.monotonic()
    try:
        parse_nodes("FROM a\n" + "ONBUILD " * 10000 + "RUN x\n")
    except DockerfileError:
        pass
    value = "a" * 5000
    assert Lex().process_word("${V#*a*a*a*a*a*a*a*a*a*a*b}", {"V": value}) == value
    assert Lex().process_word("${V//*a*a*a*a*a*b/x}", {"V": value}) == value
    try:
        Lex().process_word("${A:-" * 5000 + "}" * 5000, {})
    except DockerfileError:
        pass
    matcher = PatternMatcher(["*a*a*a*a*a*a*a*a*a*a*b", "**/**/**/**/**/x"])
    assert matcher.matches_or_parent_matches("a" * 5000) is False
    parse("FROM a AS s0\n" + "".join(f"FROM s{i} AS s{i + 1}\n" for i in range(3000))).stages_for(None, {})
    assert time.monotonic() - start < 10
