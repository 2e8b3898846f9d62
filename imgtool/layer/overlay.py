"""Overlay upper dir -> layer entries: how a RUN step's filesystem diff becomes a layer.

overlayfs records a deletion as a character device 0/0 and a replaced directory with the xattr
`trusted.overlay.opaque=y` (or `user.overlay.opaque` when mounted with userxattr). Both become
OCI whiteouts; everything else in the upper dir is a plain addition or change.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Iterator

from . import entries
from .entries import Entry

_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def _is_opaque(path: str) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def changes_from_upper(upper: str | Path) -> Iterator[Entry]:
    """Entries for a layer holding exactly what changed in an overlay upper dir."""
    upper = os.fspath(upper)
    for dirpath, dirnames, filenames in os.walk(upper):
        rel = os.path.relpath(dirpath, upper)
        for name in dirnames + filenames:
            member = name if rel == "." else posixpath.join(rel, name)
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                yield entries.whiteout_entry(member)
                continue
            yield entries.from_path(path, member)
            if stat.S_ISDIR(st.st_mode) and _is_opaque(path):
                yield entries.opaque_entry(member)
