"""Go's text primitives that BuildKit's output depends on: strconv.Quote and unicode.IsSpace.

The parser corpus compares `dump()` byte for byte with Go's `Node.Dump()`, which quotes each
value with `strconv.Quote`; Python's `repr` and `json.dumps` escape differently (non-ASCII,
control characters, single quotes). Word splitting in the parser and lexer uses Go's
`unicode.IsSpace`, which differs from `str.isspace` on the ASCII separators U+001C..U+001F.

Undecodable bytes of the Dockerfile are carried as surrogate escapes (`errors="surrogateescape"`)
and quoted as `\\xNN`, which is what Go does with invalid UTF-8.
"""

from __future__ import annotations

import unicodedata

_LATIN1_SPACES = frozenset("\t\n\v\f\r \x85\xa0")
_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_GRAPHIC_CATEGORIES = frozenset("LMNPS")


def is_space(ch: str) -> bool:
    """Go's `unicode.IsSpace`: the Latin-1 set explicitly, Unicode White_Space above it."""
    if ord(ch) < 0x100:
        return ch in _LATIN1_SPACES
    return ch.isspace()


def strip_space(text: str, left: bool = True, right: bool = True) -> str:
    """Go's `strings.TrimSpace` (or its one-sided forms): trims only what `is_space` accepts."""
    start, end = 0, len(text)
    while left and start < end and is_space(text[start]):
        start += 1
    while right and end > start and is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_print(ch: str) -> bool:
    """Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in _GRAPHIC_CATEGORIES


def quote(value: str) -> str:
    """Quote `value` exactly like Go's `strconv.Quote` so dumps compare byte for byte."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte carried by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif _is_print(ch):
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # other lone surrogates are invalid UTF-8 in Go
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def quote_list(values: list[str] | tuple[str, ...]) -> str:
    """Go's `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`."""
    return "[" + " ".join(quote(v) for v in values) + "]"
