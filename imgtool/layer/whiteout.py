"""Whiteouts (image-spec layer.md): how a layer says "this path from below is gone".

`dir/.wh.NAME` deletes NAME from lower layers; `dir/.wh..wh..opq` hides everything below in `dir`.
Other names starting with `.wh.` are reserved.
"""

from __future__ import annotations

import posixpath

PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def is_whiteout(name: str) -> bool:
    """True for any whiteout entry (plain or opaque), judged by the base name."""
    return posixpath.basename(name).startswith(PREFIX)


def is_opaque(name: str) -> bool:
    """True for an opaque-directory marker."""
    return posixpath.basename(name) == OPAQUE


def whiteout_for(path: str) -> str:
    """The entry name that deletes `path`."""
    parent, base = posixpath.split(path)
    return posixpath.join(parent, PREFIX + base)


def opaque_for(directory: str) -> str:
    """The entry name that makes `directory` opaque."""
    return posixpath.join(directory, OPAQUE)


def target_of(name: str) -> str:
    """The path a plain whiteout deletes (`a/.wh.b` -> `a/b`)."""
    parent, base = posixpath.split(name)
    return posixpath.join(parent, base[len(PREFIX):])
