"""Layer entries: what the tar writer serialises, from a directory, a change list or another tar.

Every source (a directory tree, an overlay upper dir, a rootfs tarball being imported) is turned
into the same `Entry` records, so there is exactly one place that decides how a file looks inside a
layer (writer.py).
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from imgtool.errors import LayerError

from . import whiteout
from .tarheader import Header


@dataclass
class Entry:
    """One tar member to write: metadata in `info`; content (regular files only) from the file at
    `path`, or from `open` for sources that are not files on disk (a spooled tarball).

    `link_key` groups hardlinks: the first entry of a group in layer order carries the content and
    the others become hardlinks to it, whatever order the source listed them in.
    """

    info: Header
    open: Callable[[], BinaryIO] | None = None
    link_key: object | None = None
    path: str | None = None

    @property
    def has_content(self) -> bool:
        """True if the member carries file data."""
        return self.path is not None or self.open is not None

    def take_content(self, other: "Entry") -> None:
        """Carry `other`'s data (a hardlink group moves its content onto its first name)."""
        self.path, self.open = other.path, other.open

    def drop_content(self) -> None:
        """Carry no data (the entry became a hardlink)."""
        self.path = self.open = None


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


def xattr_names(path: str) -> list[str]:
    """The names of a path's own xattrs (never a symlink's target's); none where it has none or the
    filesystem keeps none."""
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []


def _xattrs(path: str, names: list[str]) -> dict[str, bytes]:
    out = {}
    for name in names:
        if name.startswith("trusted.overlay."):
            continue  # overlayfs bookkeeping, never shipped
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def from_path(path: str | Path, name: str, st: os.stat_result | None = None,
              names: list[str] | None = None) -> Entry:
    """An entry for a file on disk (lstat: symlinks are stored as links, never followed); `st` (its
    lstat) and `names` (its `xattr_names`) when the caller has them already."""
    path = os.fspath(path)
    st = st if st is not None else os.lstat(path)
    info = Header(name, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid, mtime=int(st.st_mtime))
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
    info.xattrs = _xattrs(path, xattr_names(path) if names is None else names)
    return Entry(info, link_key=link_key, path=path if info.type == tarfile.REGTYPE else None)


def from_directory(root: str | Path) -> Iterator[Entry]:
    """Every path below `root` (not `root` itself), as it is on disk: a full-tree layer."""
    stack = [(os.fspath(root), "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as it:
            for item in it:
                member = prefix + item.name
                yield from_path(item.path, member)
                if item.is_dir(follow_symlinks=False):
                    stack.append((item.path, member + "/"))


def marker(name: str) -> Entry:
    """An empty regular file: the on-tar form of a whiteout or opaque marker."""
    return Entry(Header(name))


def whiteout_entry(path: str) -> Entry:
    """The entry that deletes `path` from lower layers."""
    return marker(whiteout.whiteout_for(path))


def opaque_entry(directory: str) -> Entry:
    """The entry that hides lower layers' contents of `directory`."""
    return marker(whiteout.opaque_for(directory))
