"""Dockerfile text -> instruction nodes, the way BuildKit's parser assembles lines.

Pipeline per physical line: strip the BOM (first line), offer the line to the directive parser
(top of file only), drop comment lines, glue lines ending in the escape character to the next
(comment lines and empty lines inside a continuation are skipped; the latter raise the
NoEmptyContinuation warning), split the instruction with its line parser, and for RUN/COPY/ADD
in shell form read the bodies of any heredocs from the lines that follow.

Only leading whitespace of an instruction's first line is removed; continuation lines keep theirs.
Lines longer than 64 KiB are rejected like BuildKit's scanner does, which also bounds the work
hostile input can cause.
"""

from __future__ import annotations

import re

from imgtool.frozen import frozen

from . import lineparsers
from .directives import Directive, DirectiveParser
from .errors import DockerfileError, ExpansionError
from .goquote import strip_space
from .nodes import Heredoc, Node
from .shell import Lex

MAX_LINE = 64 * 1024  # bufio.Scanner's token limit, newline included
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_HEREDOC_WORDS = Lex(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
_HEREDOC_NAME = Lex(skip_unset_env=True)
_HEREDOC_NAME_RAW = Lex(raw_quotes=True, skip_unset_env=True)
HEREDOC_INSTRUCTIONS = frozenset({"run", "copy", "add"})


@frozen
class ParseWarning:
    """A parser-level finding that is not an error (today: empty continuation lines)."""

    rule: str
    message: str
    line: int


@frozen
class ParseResult:
    """The instructions of a file, its escape character, directives and parser warnings."""

    nodes: tuple[Node, ...]
    escape: str
    directives: tuple[Directive, ...]
    warnings: tuple[ParseWarning, ...]

    @property
    def start_line(self) -> int:
        """First line of the first instruction."""
        return self.nodes[0].start_line

    @property
    def end_line(self) -> int:
        """Last line of the last instruction (heredoc bodies included)."""
        return self.nodes[-1].end_line


def _physical_lines(text: str) -> list[str]:
    """Split on `\\n` only, keeping it, like BuildKit's scanLines (not `str.splitlines`)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return strip_space(line, right=False).startswith("#")


def _continuation(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _heredoc_from_word(word: str) -> Heredoc | None:
    match = _HEREDOC.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    words = _HEREDOC_NAME.process_words(rest, {})
    if len(words) != 1:
        return None
    raw = _HEREDOC_NAME_RAW.process_words(rest, {})
    if len(raw) != 1:
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    digits = match.group(1)
    return Heredoc(
        name=words[0],
        file_descriptor=int(digits) if digits and len(digits) < 20 else 0,
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
    )


def heredocs_in_line(line: str) -> list[Heredoc]:
    """The heredocs an instruction line opens, in order (`<<EOF`, `<<-EOF`, `3<<'EOF'`, ...)."""
    try:
        words = _HEREDOC_WORDS.process_words(line, {})
    except ExpansionError:
        return []
    return [doc for doc in map(_heredoc_from_word, words) if doc is not None]


def _can_contain_heredoc(node: Node) -> bool:
    if node.keyword == "onbuild" and node.sub is not None:
        node = node.sub
    return node.keyword in HEREDOC_INSTRUCTIONS and not node.is_json


class _Lines:
    """A cursor over physical lines that counts line numbers and enforces the length limit."""

    def __init__(self, text: str, filename: str) -> None:
        self.lines = _physical_lines(text)
        self.index = 0
        self.filename = filename

    def next(self) -> str | None:
        if self.index >= len(self.lines):
            return None
        line = self.lines[self.index]
        self.index += 1
        if len(line.encode("utf-8", "surrogateescape")) > MAX_LINE:
            raise DockerfileError(
                f"dockerfile line greater than max allowed size of {MAX_LINE - 1}", self.index, self.filename
            )
        return line


def parse(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile text into instruction nodes; raise DockerfileError like BuildKit would."""
    directives = DirectiveParser(filename)
    escape = "\\"
    continuation = _continuation(escape)
    lines = _Lines(text, filename)
    nodes: list[Node] = []
    warnings: list[ParseWarning] = []
    comments: list[str] = []

    def process(raw: str, strip_left: bool) -> tuple[str, Directive | None]:
        token = _trim_newline(raw)
        if strip_left:
            token = strip_space(token, right=False)
        directive = directives.feed(token)
        return ("" if _is_comment(token) else token), directive

    def trim_continuation(token: str) -> tuple[str, bool]:
        if continuation.search(token):
            return continuation.sub(r"\1", token, count=1), False
        return token, True

    while (raw := lines.next()) is not None:
        if lines.index == 1 and raw.startswith("\ufeff"):
            raw = raw[1:]
        if _is_comment(raw):
            comment = strip_space(strip_space(raw, right=False)[1:])
            comments = comments + [comment] if comment else []
        token, directive = process(raw, True)
        if directive is not None:
            comments = comments[:-1]
            if directive.name == "escape":
                if directive.value not in ("\\", "`"):
                    raise DockerfileError(
                        f"invalid escape token '{directive.value}' does not match ` or \\", lines.index, filename
                    )
                escape = directive.value
                continuation = _continuation(escape)
        start = lines.index
        line, end_of_line = trim_continuation(token)
        if end_of_line and not line:
            continue
        parts = [line]
        has_empty_continuation = False
        while not end_of_line and (raw := lines.next()) is not None:
            token, _ = process(raw, False)
            if _is_comment(raw):
                continue
            if not strip_space(token, right=False):
                has_empty_continuation = True
                continue
            token, end_of_line = trim_continuation(token)
            parts.append(token)
        line = "".join(parts)
        if has_empty_continuation:
            warnings.append(ParseWarning("NoEmptyContinuation", "Empty continuation line found in: " + line, lines.index))
        try:
            node = lineparsers.node_from_line(line, escape)
        except DockerfileError as exc:
            raise exc.located(start, filename, lines.index) from None
        heredocs: list[Heredoc] = []
        if _can_contain_heredoc(node) and "<<" in line:
            try:
                opened = heredocs_in_line(line)
            except DockerfileError as exc:
                raise exc.located(start, filename, lines.index) from None
            for doc in opened:
                body: list[str] = []
                while True:
                    raw = lines.next()
                    if raw is None:
                        raise DockerfileError("unterminated heredoc", start, filename, lines.index)
                    candidate = _trim_newline(raw)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        break
                    body.append(raw)
                heredocs.append(Heredoc(doc.name, doc.file_descriptor, doc.expand, doc.chomp, "".join(body)))
        nodes.append(
            Node(
                node.value,
                node.args,
                node.flags,
                _with_lines(node.sub, start, lines.index),
                node.is_json,
                node.original,
                start,
                lines.index,
                tuple(heredocs),
                tuple(comments),
            )
        )
        comments = []
    if not nodes:
        raise DockerfileError("file with no instructions", max(lines.index, 1), filename)
    return ParseResult(tuple(nodes), escape, tuple(directives.found), tuple(warnings))


def _with_lines(node: Node | None, start: int, end: int) -> Node | None:
    if node is None:
        return None
    return Node(node.value, node.args, node.flags, node.sub, node.is_json, node.original, start, end)


__all__ = ["ParseResult", "ParseWarning", "heredocs_in_line", "parse"]
