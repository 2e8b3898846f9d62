"""`COPY/ADD --chmod`: octal or symbolic modes, as BuildKit accepts them.

Why its own module: the flag is checked before a COPY runs (a bad one fails at its Dockerfile line,
with no copy started) and applied per file inside the chrooted copy (builder/files.py); both use
this one parser, so they cannot disagree on what a mode means.
"""

from __future__ import annotations

import re

from imgtool.errors import ImgtoolError

_SYMBOLIC = re.compile(r"^([ugoa]*)([-+=])([rwxXst]*)$")


class ChmodError(ImgtoolError):
    """A --chmod value that is neither octal nor symbolic."""


def parse_chmod(text: str) -> object:
    """--chmod: octal (`755`) or symbolic (`u+x,g=r`); returns a callable mode -> mode."""
    if re.fullmatch(r"[0-7]{1,4}", text):
        value = int(text, 8)
        return lambda _mode, _is_dir: value
    clauses = []
    for clause in text.split(","):
        m = _SYMBOLIC.match(clause)
        if not m:
            raise ChmodError(f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777")
        clauses.append(m.groups())

    def apply(mode: int, is_dir: bool) -> int:
        for who, op, perms in clauses:
            who = who or "a"
            mask = 0
            for w in who:
                mask |= {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}[w]
            bits = 0
            for p in perms:
                if p == "r":
                    bits |= 0o444
                elif p == "w":
                    bits |= 0o222
                elif p == "x" or (p == "X" and (is_dir or mode & 0o111)):
                    bits |= 0o111
                elif p == "s":
                    bits |= 0o6000
                elif p == "t":
                    bits |= 0o1000
            bits &= mask
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                mode = (mode & ~(mask & 0o7777)) | bits
        return mode

    return apply
