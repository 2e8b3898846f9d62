"""Tar member headers in one fixed encoding: POSIX ustar blocks with PAX extended records.

Why not `tarfile.TarInfo.tobuf`: it is the single largest cost of writing a many-file layer (about
110 us a member here, three quarters of the time for 20,000 files; see docs/benchmarks.md), and its
byte output is CPython's to change between versions, which would silently change every layer digest
imgtool produces. This module pins the encoding imgtool's determinism rests on. Reading stays with
`tarfile` (tests check it, and GNU tar, read these headers back exactly).

The rules: ustar fields in octal, names and link names in the header when they are ASCII and fit
(100 bytes), otherwise in a PAX `path`/`linkpath` record; out-of-range numbers as PAX records;
xattrs as `SCHILY.xattr.NAME` records with raw values (as Go's archive/tar writes them: binary
capability sets included, no `hdrcharset`, which GNU tar warns about); records sorted by keyword; no
user or group names; directory names end in `/`.
"""

from __future__ import annotations

import struct
import tarfile
from dataclasses import dataclass, field

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
_MAGIC = b"ustar\x0000"
_PAX_NAME = b"././@PaxHeader"
_XATTR = "SCHILY.xattr."
_LIMITS = {"uid": 8 ** 7, "gid": 8 ** 7, "size": 8 ** 11, "mtime": 8 ** 11}


@dataclass
class Header:
    """The fields imgtool writes for one member (everything else is fixed)."""

    name: str
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s167s")
_SPACES = b" " * 8


def _block(name: bytes, type_: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: bytes, devmajor: int, devminor: int, device: bool) -> bytes:
    major, minor = (b"%07o\0" % devmajor, b"%07o\0" % devminor) if device else (b"", b"")
    block = _USTAR.pack(name, b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid, b"%07o\0" % gid,
                        b"%011o\0" % size, b"%011o\0" % mtime, _SPACES, type_, linkname, _MAGIC,
                        b"", b"", major, minor, b"")
    # the checksum counts its own field as eight spaces, as packed
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


def _record(keyword: bytes, value: bytes) -> bytes:
    body = b" " + keyword + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:  # the length counts its own digits
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def _pad(n: int) -> bytes:
    return b"\0" * (-n % BLOCK)


def encode(h: Header) -> bytes:
    """The header block(s) for one member: an optional PAX extended header, then the ustar block."""
    name = h.name + "/" if h.type == tarfile.DIRTYPE and not h.name.endswith("/") else h.name
    device = h.type in (tarfile.CHRTYPE, tarfile.BLKTYPE)
    if (not h.xattrs and len(name) <= 100 and len(h.linkname) <= 100 and name.isascii()
            and h.linkname.isascii() and 0 <= h.uid < _LIMITS["uid"] and 0 <= h.gid < _LIMITS["gid"]
            and 0 <= h.size < _LIMITS["size"] and 0 <= h.mtime < _LIMITS["mtime"]):
        # the common member needs no PAX record: skip the general path (the writer's hot loop)
        return _block(name.encode(), h.type, h.mode, h.uid, h.gid, h.size, h.mtime,
                      h.linkname.encode(), h.devmajor, h.devminor, device)
    records: dict[str, bytes] = {}
    encoded = {}
    for key, value in (("path", name), ("linkpath", h.linkname)):
        raw = value.encode("utf-8", "surrogateescape")
        if len(raw) > 100 or not value.isascii():
            records[key] = raw
        encoded[key] = raw
    numbers = {"uid": h.uid, "gid": h.gid, "size": h.size, "mtime": h.mtime}
    for key, value in numbers.items():
        if not 0 <= value < _LIMITS[key]:
            records[key] = str(value).encode()
            numbers[key] = 0
    for xname, xvalue in h.xattrs.items():
        records[_XATTR + xname] = xvalue
    out = b""
    if records:
        payload = b"".join(_record(k.encode(), records[k]) for k in sorted(records))
        out = _block(_PAX_NAME, tarfile.XHDTYPE, 0o644, 0, 0, len(payload), 0, b"", 0, 0, False)
        out += payload + _pad(len(payload))
    return out + _block(encoded["path"], h.type, h.mode, numbers["uid"], numbers["gid"], numbers["size"],
                        numbers["mtime"], encoded["linkpath"], h.devmajor, h.devminor, device)


def padding(size: int) -> bytes:
    """Zero bytes that complete a member's content to a whole block."""
    return _pad(size)
