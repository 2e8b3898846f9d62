"""Canonical JSON: the one byte form imgtool writes for manifests, indexes and configs.

Digests name bytes, not objects, so every document imgtool creates is serialised one way (sorted
keys, no insignificant whitespace, UTF-8) and the same image always gets the same digest. Documents
read from elsewhere are never re-serialised: their original bytes are kept and moved as they are.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from typing import Any, Callable

from imgtool.errors import SchemaError


def go_string(text: str) -> str:
    """`text` as Go's encoding/json writes it: each byte that was not UTF-8 becomes U+FFFD.

    Why: Dockerfiles and tar names are read with `surrogateescape`, so bytes that are not UTF-8
    survive as lone surrogates, which cannot be encoded; BuildKit's documents (configs, history,
    the runtime spec of a RUN) carry U+FFFD in their place, and so do imgtool's.
    """
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # a surrogate that is no escaped byte (from a JSON \ud800)
            return text.encode("utf-8", "replace").decode()


def dumps(obj: Any) -> bytes:
    """Serialise to canonical JSON bytes (UTF-8; undecodable input bytes as U+FFFD, see go_string)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return go_string(text).encode()


def _not_utf8(data: bytes) -> str | None:
    """Why `data` is not the UTF-8 that RFC 8259 (and so the OCI specs) require, if it is not:
    Python's `json.loads(bytes)` would guess UTF-16/32 from NUL bytes and skip a UTF-8 BOM, and Go's
    encoding/json (docker, containerd, distribution) refuses both: a document only imgtool accepts
    is a document whose bytes and meaning two tools disagree on."""
    if data.startswith(codecs.BOM_UTF8):
        return "starts with a UTF-8 byte-order mark"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            or b"\x00" in data[:4]:
        return "UTF-16 or UTF-32, not UTF-8"
    return None


def _no_constant(what: str, name: str) -> Any:
    raise SchemaError(f"{what}: invalid JSON: {name} is not a JSON number (RFC 8259)")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a `\u` escape of U+D800..U+DFFF
_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_surrogates(doc: Any) -> Any:
    """`doc` with every lone surrogate in its strings (keys too) as U+FFFD, as Go decodes them.

    Why accept `"\\ud800"` at all: RFC 8259's grammar allows it, and Go's encoding/json (docker,
    containerd, distribution) reads it as U+FFFD without complaint, so refusing would make imgtool
    the one tool that cannot pull, push or mirror such an image; the digest is over the bytes
    either way. Why not keep it as Python decodes it: U+D800 is not what any other tool sees (an
    annotation or artifactType filter would match differently), and it cannot be encoded as UTF-8.
    Pairs are already one code point here, so whatever surrogate is left is a lone one. Iterative:
    documents may nest deeply before the registry's depth check sees them."""
    fix = lambda text: _SURROGATE.sub("\ufffd", text)  # noqa: E731
    root = [doc]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            parent[key] = fix(value)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            fixed = {fix(k): v for k, v in value.items()}  # a key that becomes another's: last wins, as in Go
            value.clear()
            value.update(fixed)
            stack.extend((value, k) for k in value)
    return root[0]


def loads(data: bytes | str, what: str = "document", parse_int: Callable[[str], Any] | None = None) -> Any:
    """Parse strict JSON (UTF-8 without a BOM, no NaN/Infinity), turning any failure into a
    one-line SchemaError naming `what` (`parse_int`: json.loads', e.g. to bound integers). Lone
    surrogate escapes decode to U+FFFD, as in Go (`_go_surrogates`)."""
    if isinstance(data, (bytes, bytearray)):
        reason = _not_utf8(data)
        if reason:
            raise SchemaError(f"{what}: invalid JSON: {reason}")
    try:
        doc = json.loads(data, parse_int=parse_int, parse_constant=functools.partial(_no_constant, what))
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return _go_surrogates(doc) if _SURROGATE_ESCAPE.search(raw) else doc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        if isinstance(exc, json.JSONDecodeError):
            detail = exc.msg
        elif isinstance(exc, UnicodeDecodeError):
            detail = f"not UTF-8 (byte {exc.start})"
        elif isinstance(exc, RecursionError):
            detail = type(exc).__name__
        else:
            detail = f"a number too long to read ({str(exc).split(':')[0]})"
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise SchemaError(f"{what}: invalid JSON{where}: {detail}") from None


def validated(doc: Any, schema_name: str, what: str) -> bytes:
    """Canonical bytes of a document that must pass its schema first (every write goes here)."""
    from . import schema

    schema.validate(doc, schema_name, what)
    return dumps(doc)
