"""Canonical JSON: the one byte form imgtool writes for manifests, indexes and configs.

Digests name bytes, not objects, so every document imgtool creates is serialised one way (sorted
keys, no insignificant whitespace, UTF-8) and the same image always gets the same digest. Documents
read from elsewhere are never re-serialised: their original bytes are kept and moved as they are.
"""

from __future__ import annotations

import codecs
import functools
import json
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


def loads(data: bytes | str, what: str = "document", parse_int: Callable[[str], Any] | None = None) -> Any:
    """Parse strict JSON (UTF-8 without a BOM, no NaN/Infinity), turning any failure into a
    one-line SchemaError naming `what` (`parse_int`: json.loads', e.g. to bound integers)."""
    if isinstance(data, (bytes, bytearray)):
        reason = _not_utf8(data)
        if reason:
            raise SchemaError(f"{what}: invalid JSON: {reason}")
    try:
        return json.loads(data, parse_int=parse_int, parse_constant=functools.partial(_no_constant, what))
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
