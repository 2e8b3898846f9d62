"""Container IDs and names: docker's formats, and lookup by full ID, exact name or unique ID prefix.

Why docker's rules exactly: scripts pass `$(docker run -d ...)` output, 12-character short IDs and
names interchangeably, and expect the same ambiguity errors (moby daemon/container.go GetContainer).
"""

from __future__ import annotations

import re
import secrets

from imgtool.errors import ImgtoolError, NotFoundError

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")  # \Z: $ also matches before a final newline
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_LEFT = ("admiring", "brave", "clever", "dreamy", "eager", "festive", "gallant", "happy", "jolly", "keen",
         "lucid", "modest", "nifty", "quirky", "serene", "tender", "upbeat", "vibrant", "wizardly", "zealous")
_RIGHT = ("babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler", "lovelace", "meitner",
          "newton", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "volta", "wozniak", "yonath")


class ConflictError(ImgtoolError):
    """A name already taken, or a prefix naming several containers."""

    exit_code = 125


def new_id() -> str:
    """64 lowercase hex characters; re-rolled when the short ID would be all digits (a bad hostname)."""
    while True:
        cid = secrets.token_hex(32)
        if not cid[:12].isdigit():
            return cid


def check_name(name: str) -> str:
    """A `--name` as stored (one leading '/' stripped), or docker's error."""
    bare = name[1:] if name.startswith("/") else name
    if not NAME.match(bare):
        raise ImgtoolError(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return bare


def generate_name(taken: set[str]) -> str:
    """docker-style `adjective_surname`, a digit appended after the first collision."""
    for attempt in range(50):
        name = f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}"
        if attempt:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"c_{secrets.token_hex(6)}"


def resolve(ref: str, names: dict[str, str]) -> str:
    """The ID `ref` means among `names` (id -> name): exact ID, exact name, then unique ID prefix."""
    if not ref:
        raise ImgtoolError('invalid name or ID supplied: ""')
    if ref in names:
        return ref
    by_name = [cid for cid, name in names.items() if name == ref.lstrip("/")]
    if by_name:
        return by_name[0]
    matches = [cid for cid in names if cid.startswith(ref)] if re.fullmatch(r"[0-9a-f]+", ref) else []
    if len(matches) > 1:
        raise ConflictError(f"multiple IDs found with provided prefix: {ref}")
    if not matches:
        raise NotFoundError(f"No such container: {ref}")
    return matches[0]


def is_id(text: str) -> bool:
    """True for a full 64-hex container ID."""
    return bool(_HEX64.match(text))
