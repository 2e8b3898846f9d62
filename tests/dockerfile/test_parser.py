"""Parser behaviour beyond the corpus: errors, directives, escape, continuations, heredocs."""

from __future__ import annotations

import pytest

from imgtool.dockerfile import DockerfileError, dump, parse_nodes
from imgtool.dockerfile.goquote import quote


def _dump(text: str) -> str:
    return dump(parse_nodes(text).nodes)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", '"plain"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\x00\x07\x7f", '"\\x00\\a\\x7f"'),
        ("☃ é", '"☃ é"'),
        ("\u00a0\u2028", '"\\u00a0\\u2028"'),
        ("\U0001f600\U000e0001", '"\U0001f600\\U000e0001"'),
        ("\udcff", '"\\xff"'),
    ],
)
def test_go_quote(value: str, expected: str) -> None:
    assert quote(value) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Dockerfile:1: file with no instructions"),
        ("# only\n\n", "Dockerfile:2: file with no instructions"),
        ("FROM a\nENV PATH\n", "Dockerfile:2: ENV must have two arguments"),
        ("FROM a\nLABEL a=b c\n", 'Dockerfile:2: Syntax error - can\'t find = in "c". Must be of the form: name=value'),
        ('FROM a\nCMD ["a", 1]\n', "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM a\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc"),
        ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# escape=`\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used"),
        ("FROM a\nRUN " + "x" * 70000 + "\n", "Dockerfile:2: dockerfile line greater than max allowed size of 65535"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse_nodes(text)
    assert str(info.value) == message


def test_error_names_the_file_as_given() -> None:
    with pytest.raises(DockerfileError, match=r"^build/app\.Dockerfile:1: "):
        parse_nodes("", "build/app.Dockerfile")


def test_directives_only_at_the_top() -> None:
    result = parse_nodes("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\n")
    assert [(d.name, d.value, d.line) for d in result.directives] == [
        ("syntax", "docker/dockerfile:1", 1), ("check", "skip=all", 2), ("escape", "`", 3),
    ]  # fmt: skip
    assert result.escape == "`"
    late = parse_nodes("FROM a\n# escape=`\nRUN a \\\n b\n")
    assert late.escape == "\\" and late.directives == ()
    assert _dump("# comment\n# escape=`\nRUN a \\\n b\n") == '(run "a  b")\n'


def test_backtick_escape_continues_lines() -> None:
    assert _dump("# escape=`\nRUN dir c:\\ `\n  /s\n") == '(run "dir c:\\\\   /s")\n'


def test_escaped_escape_is_not_a_continuation() -> None:
    assert _dump("RUN echo foo\\\\\nRUN b\n") == '(run "echo foo\\\\\\\\")\n(run "b")\n'


def test_comments_and_empty_lines_inside_continuation() -> None:
    result = parse_nodes("RUN a \\\n# note\n\n  b\nRUN c\n")
    assert dump(result.nodes) == '(run "a   b")\n(run "c")\n'
    assert [(n.start_line, n.end_line) for n in result.nodes] == [(1, 4), (5, 5)]
    assert [w.rule for w in result.warnings] == ["NoEmptyContinuation"]


def test_crlf_and_bom() -> None:
    assert _dump("\ufeffFROM a\r\nRUN b \\\r\n c\r\n") == '(from "a")\n(run "b  c")\n'


def test_flags_and_keyword_case_kept() -> None:
    node = parse_nodes('copy --from=build --chown="a b" x y\n').nodes[0]
    assert (node.value, node.keyword, node.flags, node.args) == ("copy", "copy", ("--from=build", "--chown=a b"), ("x", "y"))


def test_heredoc_forms() -> None:
    text = "FROM a\nRUN 3<<-'EOT' cat <<X\n\tbody $V\n\tEOT\nx\nX\nCOPY <<a.txt /dst\nhi\na.txt\n"
    run, copy = parse_nodes(text).nodes[1:]
    assert [(h.name, h.file_descriptor, h.expand, h.chomp, h.content) for h in run.heredocs] == [
        ("EOT", 3, False, True, "\tbody $V\n"), ("X", 0, True, False, "x\n"),
    ]  # fmt: skip
    assert run.heredocs[0].body() == "body $V\n"
    assert (run.start_line, run.end_line) == (2, 6)
    assert copy.heredocs[0].content == "hi\n"


def test_heredoc_not_in_json_or_other_instructions() -> None:
    nodes = parse_nodes('RUN ["cat", "<<EOF"]\nUSER <<EOF\nEOF\n').nodes
    assert [n.heredocs for n in nodes] == [(), (), ()]


def test_onbuild_nesting_and_unknown_instruction_dump() -> None:
    assert _dump("ONBUILD RUN --mount=type=cache,target=/c make\nFOO bar\n") == (
        '(onbuild (run ["--mount=type=cache,target=/c"] "make"))\n(foo "")\n'
    )


def test_json_trailing_text_is_ignored_like_go() -> None:
    assert _dump('CMD ["a"] trailing\nCMD [NaN]\n') == '(cmd "a")\n(cmd "[NaN]")\n'
