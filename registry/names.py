"""Validation of everything a client puts in a URL, done before any filesystem path is built.

Repository names, tags, digests and upload ids are checked against the spec grammars (ASCII only,
bounded lengths); what passes cannot contain `..`, `/` in the wrong place, or NUL, so storage can join
them into paths without further care.
"""

from __future__ import annotations

import re
import uuid

from imgtool.errors import InvalidDigestError
from imgtool.oci.digest import Digest

from .errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", re.ASCII)
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)
MAX_NAME_LENGTH = 255


def repository(name: str) -> str:
    """A valid repository name, or NAME_INVALID."""
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name {name[:300]!r}")
    return name


def is_tag(reference: str) -> bool:
    """Whether a manifest reference is a tag (as opposed to a digest)."""
    return _TAG.fullmatch(reference) is not None


def tag(reference: str) -> str:
    """A valid tag, or TAG_INVALID."""
    if not is_tag(reference):
        raise RegistryError("TAG_INVALID", f"invalid tag {reference[:200]!r}")
    return reference


def digest(text: str, code: str = "DIGEST_INVALID") -> Digest:
    """A digest imgtool can verify (sha256/sha512, exact hex length), or `code` (400)."""
    try:
        parsed = Digest.parse(text)
    except InvalidDigestError as exc:
        raise RegistryError(code, str(exc), status=400) from None
    if not parsed.registered:
        raise RegistryError(code, f"unsupported digest algorithm {parsed.algorithm!r}", status=400)
    return parsed


def upload_id(text: str) -> str:
    """A session id as this registry issues them (32 hex digits), or BLOB_UPLOAD_UNKNOWN."""
    if not _UPLOAD_ID.fullmatch(text):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", "unknown upload session")
    return text


def new_upload_id() -> str:
    """A fresh unguessable session id."""
    return uuid.uuid4().hex
