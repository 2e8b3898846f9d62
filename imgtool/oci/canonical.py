"""Canonical JSON: the one byte form imgtool writes for manifests, indexes and configs.

Digests name bytes, not objects, so every document imgtool creates is serialised one way (sorted
keys, no insignificant whitespace, UTF-8) and the same image always gets the same digest. Documents
read from elsewhere are never re-serialised: their original bytes are kept and moved as they are.
"""

from __future__ import annotations

import json
from typing import Any

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


def loads(data: bytes | str, what: str = "document") -> Any:
    """Parse JSON, turning any decoding failure into a one-line SchemaError naming `what`."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        if isinstance(exc, json.JSONDecodeError):
            detail = exc.msg
        elif isinstance(exc, (UnicodeDecodeError, RecursionError)):
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
