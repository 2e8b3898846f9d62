"""What a file's bytes hold for the rules: text (UTF-8, or UTF-16 as Windows tools write it), a
binary key container, an archive whose members are read in turn, or a binary whose printable
strings may embed a token (a .pyc's constants, a compiled-in key).

Each piece says where it came from (`member`: the path inside archives, `!`-joined when nested)
so a finding inside `/backup.tar.gz` names both the layer file and the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from imgtool.layer.compression import archive_format

from . import archives, keystores
from .filters import allowlisted_path
from .keys import KeyInfo
from .match import BINARY, FILE, Where

PROBE = 8192
MAX_DEPTH = 3
# strings are searched in compiled Python of any size and in other binaries up to this size: planted
# and generated blobs are small, while executables and libraries cost seconds per 100 MB and hold
# vendor text; binaries under vendored paths (site-packages' .pyc) would only give suppressed findings
MAX_STRINGS = 64 << 10
_PRINTABLE = bytes(c if 0x20 <= c < 0x7f or c == 0x09 else 0x0a for c in range(256))


@dataclass(frozen=True)
class Piece:
    """Text to run the rules on, or a key found in a binary container."""

    where: Where
    member: str | None = None
    text: str | None = None
    key: KeyInfo | None = None
    binary: bool = False
    data: bytes = b""        # a key container's bytes (the secret)


def _utf16(data: bytes) -> str | None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif len(data) >= 8 and not any(data[1:512:2]) and all(data[0:512:2]):
        encoding = "utf-16-le"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def strings(data: bytes) -> str:
    """The printable ASCII runs, one per line (`strings -n 1`; a table translation is 20x faster
    than a regex over the bytes, and the rules need no minimum length)."""
    return data.translate(_PRINTABLE).decode("ascii")


def pieces(path: str, data: bytes, limit: int, member: str | None = None, depth: int = 0) -> Iterator[Piece]:
    """The pieces of one file's content (`path` is the layer path; inside archives, the member's)."""
    where = Where(FILE, path)
    if archive_format(data) is not None and depth < MAX_DEPTH:
        descended = False
        for name, content in archives.members(path, data, limit, 4 * limit):
            descended = True
            inner = name if member is None else f"{member}!/{name}"
            yield from pieces(name.lstrip("./") or name, content, limit, inner, depth + 1)
        if descended:
            return
    if b"\0" not in data[:PROBE]:
        yield Piece(where, member, data.decode("utf-8", "surrogateescape"))
        return
    text = _utf16(data)
    if text is not None:
        yield Piece(where, member, text)
        return
    key = keystores.binary_key(path, data)
    if key is not None:
        yield Piece(where, member, key=key, binary=True, data=data)
        return
    if (len(data) <= MAX_STRINGS or path.endswith(".pyc")) and not allowlisted_path(path):
        yield Piece(Where(BINARY, path), member, strings(data), binary=True)
