"""Layer entries: what the tar writer serialises, from a directory, a change list or another tar.

Every source (a directory tree, an overlay upper dir, a rootfs tarball being imported) is turned
into the same `Entry` records, so there is exactly one place that decides how a file looks inside a
layer (writer.py).
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, BinaryIO, Iterator

from imgtool.errors import LayerError

from . import whiteout


@dataclass
class Entry:
    """One tar member to write: metadata in `info`, content from `open` (regular files only).

    `link_key` groups hardlinks: the first entry of a group in layer order carries the content and
    the others become hardlinks to it, whatever order the source listed them in.
    """

    info: tarfile.TarInfo
    open: Callable[[], BinaryIO] | None = None
    link_key: object | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)


def clean_name(name: str) -> str:
    """A member name relative to the layer root: no leading `/` or `./`, no `..`, normalised.

    Raises LayerError for names that would escape the root, which are never legitimate in a layer.
    """
    if name.startswith("/"):
        raise LayerError(f"tar entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"tar entry {name!r} contains '..'")
    return "/".join(parts)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        if name.startswith("trusted.overlay."):
            continue  # overlayfs bookkeeping, never shipped
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def from_path(path: str | Path, name: str) -> Entry:
    """An entry for a file on disk (lstat: symlinks are stored as links, never followed)."""
    path = os.fspath(path)
    st = os.lstat(path)
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    link_key = None
    if stat.S_ISREG(st.st_mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        if st.st_nlink > 1:
            link_key = (st.st_dev, st.st_ino)
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    else:
        raise LayerError(f"{path}: sockets and other special files cannot go in a layer")
    opener = (lambda: open(path, "rb")) if info.type == tarfile.REGTYPE else None
    return Entry(info, opener, link_key, _xattrs(path))


def from_directory(root: str | Path) -> Iterator[Entry]:
    """Every path below `root` (not `root` itself), as it is on disk: a full-tree layer."""
    root = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            member = name if rel == "." else posixpath.join(rel, name)
            yield from_path(os.path.join(dirpath, name), member)


def marker(name: str) -> Entry:
    """An empty regular file: the on-tar form of a whiteout or opaque marker."""
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return Entry(info)


def whiteout_entry(path: str) -> Entry:
    """The entry that deletes `path` from lower layers."""
    return marker(whiteout.whiteout_for(path))


def opaque_entry(directory: str) -> Entry:
    """The entry that hides lower layers' contents of `directory`."""
    return marker(whiteout.opaque_for(directory))
