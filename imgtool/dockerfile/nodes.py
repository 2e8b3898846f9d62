"""The parse tree: one `Node` per instruction, as BuildKit's parser produces it.

A node holds the instruction keyword as written, its `--flags`, its arguments as the
instruction's line parser split them (raw: quotes and `$VAR` untouched), a nested node for
ONBUILD, heredoc bodies, and the source line range. `dump()` prints BuildKit's `Node.Dump()`
format byte for byte, so BuildKit's parser corpus is usable as is.
"""

from __future__ import annotations

import re
from dataclasses import field

from imgtool.frozen import frozen

from .goquote import quote, quote_list, strip_space

_LEADING_TABS = re.compile(r"(?m)^\t+")


@frozen
class Heredoc:
    """A here-document attached to RUN/COPY/ADD.

    `content` is the body exactly as read, including leading tabs even for `<<-` (`chomp`);
    `expand` is False when any part of the delimiter word was quoted.
    """

    name: str
    file_descriptor: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""

    def body(self) -> str:
        """The body as the builder uses it: leading tabs stripped from each line for `<<-`."""
        if not self.chomp:
            return self.content
        return _LEADING_TABS.sub("", self.content)


@frozen
class Node:
    """One instruction. `args` are the argument nodes' values; `sub` is ONBUILD's instruction."""

    value: str
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    sub: Node | None = None
    is_json: bool = False
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    heredocs: tuple[Heredoc, ...] = ()
    prev_comment: tuple[str, ...] = field(default=(), compare=False)

    @property
    def keyword(self) -> str:
        """The instruction name in lower case (`run`, `copy`, ...), as BuildKit dispatches on it."""
        return self.value.lower()

    def dump(self) -> str:
        """BuildKit's `Node.Dump()` of this instruction, without the surrounding parentheses."""
        out = self.keyword
        if self.flags:
            out += " " + quote_list(self.flags)
        if self.sub is not None:
            out += " (" + self.sub.dump() + ")"
        for arg in self.args:
            out += " " + quote(arg)
        return strip_space(out)


def dump(nodes: tuple[Node, ...] | list[Node]) -> str:
    """The whole file as BuildKit's parser tests print it: one `(instr ...)` line each."""
    return "".join("(" + node.dump() + ")\n" for node in nodes)
