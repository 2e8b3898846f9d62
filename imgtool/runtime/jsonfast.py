"""JSON through CPython's own `_json` accelerator, without importing the `json` package.

Why: `import json` pulls in `re` (via json.decoder/json.scanner), about 5 ms of a runtime call
whose whole budget is ~15 ms (`imgtool-runc state` against runc's ~5 ms). The C scanner and
encoder are exactly what `json.loads`/`json.dumps` use on their fast paths; only the Python
wrappers are skipped. Errors still raise `ValueError` subclasses, as `json` does. (No `typing` import either: 9 ms.)
"""

from __future__ import annotations

import _json


class _Context:
    # the attributes `_json.make_scanner` reads from a json.JSONDecoder
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # 'NaN', 'Infinity', '-Infinity'
    memo: dict = {}


_scan = _json.make_scanner(_Context())
_quote = _json.encode_basestring  # UTF-8 out, as Go's encoding/json
_compact = _json.make_encoder(None, None, _quote, None, ":", ",", False, False, True)
_WS = " \t\n\r"


def loads(text: str | bytes) -> object:
    """Parse one JSON document (surrounding whitespace allowed), like `json.loads`."""
    if isinstance(text, bytes):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"invalid JSON at character {exc.value}") from None
    if text[end:].strip(_WS):
        raise ValueError(f"extra data after JSON at character {end}")
    return value


def dumps(value: object, indent: int | None = None) -> str:
    """Serialize like `json.dumps(value)` (compact, Go's separators) or, with `indent`, like
    Go's `json.MarshalIndent` (which runc uses for `state`)."""
    if indent is None:
        return "".join(_compact(value, 0))
    return _indented(value, " " * indent, "\n")


def _indented(value: object, step: str, nl: str) -> str:
    if isinstance(value, dict) and value:
        inner = nl + step
        items = (f"{inner}{_quote(str(k))}: {_indented(v, step, inner)}" for k, v in value.items())
        return "{" + ",".join(items) + nl + "}"
    if isinstance(value, (list, tuple)) and value:
        inner = nl + step
        return "[" + ",".join(inner + _indented(v, step, inner) for v in value) + nl + "]"
    return "".join(_compact(value, 0))
