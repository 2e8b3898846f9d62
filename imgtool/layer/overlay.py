"""Overlay upper dir -> layer entries: how a RUN step's filesystem diff becomes a layer.

overlayfs records a deletion as a character device 0/0 and a replaced directory with the xattr
`trusted.overlay.opaque=y` (or `user.overlay.opaque` when mounted with userxattr). Both become
OCI whiteouts; everything else in the upper dir is a plain addition or change.

Two overlay features would make an upper dir lie about the change: `redirect_dir` (a renamed
directory is an xattr pointing at its old lower path) and `metacopy` (a chown/chmod copies up
metadata only, the data stays below). imgtool mounts with both off; an upper dir that still carries
either xattr is refused rather than turned into a wrong layer.

A file that was copied up but not changed (opened for writing, `chown` to the same owner) is not
a change: given the lower dirs, such copy-ups are left out of the layer, as BuildKit's differ does.
"""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from pathlib import Path
from typing import Callable, Iterator

from imgtool.errors import LayerError

from . import entries
from .entries import Entry

_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_REFUSED_XATTRS = tuple(f"{ns}.overlay.{name}" for ns in ("trusted", "user") for name in ("redirect", "metacopy"))
_CHUNK = 1 << 20


def _is_opaque(path: str) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _guard(path: str, names: list[str]) -> None:
    for name in names:
        if name in _REFUSED_XATTRS:
            raise LayerError(f"{path}: overlay {name.rsplit('.', 1)[1]} xattr in an upper dir "
                             "(mount with redirect_dir=off,metacopy=off); cannot diff it")


def _same_file(a: str, sa: os.stat_result, b: str) -> bool:
    """True if `b` (a lower file) has the same type, metadata, target or bytes as `a`."""
    try:
        sb = os.lstat(b)
    except OSError:
        return False
    if (sa.st_mode, sa.st_uid, sa.st_gid, sa.st_size, sa.st_mtime_ns) != \
            (sb.st_mode, sb.st_uid, sb.st_gid, sb.st_size, sb.st_mtime_ns):
        return False
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) == os.readlink(b)
    if not stat.S_ISREG(sa.st_mode) or entries.from_path(a, "").info.xattrs != entries.from_path(b, "").info.xattrs:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(_CHUNK), fb.read(_CHUNK)
            if ca != cb:
                return False
            if not ca:
                return True


def _lower_of(lowers: list[str], member: str, opaque: Callable[[str], bool]) -> str | None:
    """The path `member` has in the topmost lower dir that holds it, or None (absent, whited out, or
    hidden by an opaque directory in a higher lower)."""
    parents = []
    parent = posixpath.dirname(member)
    while parent:
        parents.append(parent)
        parent = posixpath.dirname(parent)
    for lower in lowers:
        path = os.path.join(lower, member)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if any(opaque(os.path.join(lower, p)) for p in parents):
                return None
            continue
        except OSError:
            return None
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None
        return path
    return None


def changes_from_upper(upper: str | Path, lowers: list[Path] | None = None) -> Iterator[Entry]:
    """Entries for a layer holding exactly what changed in an overlay upper dir.

    With `lowers` (the snapshot dirs under it, top first) regular files and symlinks that are
    byte-for-byte and metadata-identical to the lower copy are skipped (unchanged copy-ups). Below a
    directory that no lower has (or an opaque one) nothing can be a copy-up, so the lowers are not
    asked again there: a RUN that writes 2,000 new files costs no lookups in the image beneath.
    """
    upper = os.fspath(upper)
    lower_dirs = [os.fspath(p) for p in lowers or ()]
    opaque = functools.lru_cache(maxsize=4096)(_is_opaque)
    fresh: set[str] = set()  # upper dirs (relative) whose whole subtree is new
    for dirpath, dirnames, filenames in os.walk(upper):
        rel = os.path.relpath(dirpath, upper)
        in_fresh = rel in fresh
        for name in dirnames + filenames:
            member = name if rel == "." else posixpath.join(rel, name)
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                yield entries.whiteout_entry(member)
                continue
            names = entries.xattr_names(path)  # listed once: for the guard and for the entry
            _guard(path, names)
            is_dir = stat.S_ISDIR(st.st_mode)
            if lower_dirs and not in_fresh:
                if (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and st.st_nlink == 1:
                    lower = _lower_of(lower_dirs, member, opaque)
                    if lower is not None and _same_file(path, st, lower):
                        continue
                elif is_dir and (opaque(path) or _lower_of(lower_dirs, member, opaque) is None):
                    fresh.add(member)
            elif is_dir:
                fresh.add(member)
            yield entries.from_path(path, member, st, names)
            if is_dir and opaque(path):
                yield entries.opaque_entry(member)
