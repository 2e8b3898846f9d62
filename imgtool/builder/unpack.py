"""ADD's archive unpacking: a local tar (plain, gzip, bzip2, xz, zstd) becomes files, as moby's
archive.Unpack makes them under BuildKit's ADD.

Why by hand around tarfile: Debian 12's Python (3.11.2) has no extraction filters, so names are
confined here; and tarfile merges into what is there (it writes through a symlink of a member's
name and keeps a directory a file should replace), where Unpack removes the old path first
unless a directory meets a directory. Runs chrooted in the copy child (builder/files.py), so
every module it needs is imported before the chroot (files.load_before_chroot).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

from imgtool.errors import ImgtoolError
from imgtool.layer import compression

if TYPE_CHECKING:
    import tarfile


def unpack(raw: IO[bytes], dest: str, make_dest: Callable[[], None], remove: Callable[[str], None]) -> bool:
    """Unpack the archive `raw` into `dest` (made by `make_dest` once the archive reads as one);
    False when it is no tar archive, and ADD copies it as a file instead."""
    head = raw.read(512)
    raw.seek(0)
    kind = compression.archive_format(head)
    if kind in (None, "zip"):  # BuildKit unpacks tar archives only
        return False
    import lzma
    import tarfile

    stream = compression.open_decompressed(raw) if kind in ("gzip", "zstd") else raw
    mode = {"bzip2": "r|bz2", "xz": "r|xz"}.get(kind, "r|")
    try:
        tar = tarfile.open(fileobj=stream, mode=mode)  # reads the first header, as BuildKit's isArchive
    except (tarfile.ReadError, EOFError, lzma.LZMAError, OSError):
        return False
    with tar:
        make_dest()
        # where PEP 706 filters exist, say the members are already vetted (and silence 3.12's warning)
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        try:
            tar.extractall(dest, members=_replacing(tar, dest, remove), numeric_owner=True, **trusted)
        except ImgtoolError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure past the first header fails the ADD
            # an archive that breaks off (or cannot be written) fails the build in BuildKit
            # ("Error processing tar file"), it is not copied as a file then
            raise ArchiveError(f"Error processing tar file: {exc}") from None
    return True


class ArchiveError(ImgtoolError):
    """A local archive that reads as one but cannot be unpacked (truncated, corrupt, unwritable)."""


def _replacing(tar: tarfile.TarFile, dest: str, remove: Callable[[str], None]) -> Iterator[tarfile.TarInfo]:
    """The members, confined under `dest`, each one's path cleared first unless a directory meets
    a directory: a member `link/` replaces a symlink `link` instead of writing through it. The
    archive's own root (`./`) is skipped: Unpack leaves the destination's owner and mode alone."""
    for member in tar:
        member = _confined(member)
        if member.name == ".":
            continue
        path = posixpath.join(dest, member.name)
        with contextlib.suppress(FileNotFoundError):
            if not (stat.S_ISDIR(os.lstat(path).st_mode) and member.isdir()):
                remove(path)
        yield member


def _confined(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Keep owners, modes and links as the archive says, but every name stays under the destination."""
    member.name = posixpath.normpath("/" + member.name).lstrip("/") or "."
    if member.islnk():
        member.linkname = posixpath.normpath("/" + member.linkname).lstrip("/")
    return member
