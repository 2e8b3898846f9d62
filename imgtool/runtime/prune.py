"""fd-relative tree removal that can spare some inodes: how whiteouts delete only lower content.

Why not shutil.rmtree: it recurses (a hostile layer nests thousands of directories) and cannot keep
the entries the current layer created, which the spec says a whiteout must not touch. Descending
holds one fd per level and never follows a symlink, so a concurrent swap cannot redirect it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def list_dir(dirfd: int) -> list[str]:
    """Names in the directory behind `dirfd` (which may be an O_PATH fd)."""
    fd = os.open(".", _DIR_OPEN, dir_fd=dirfd)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def prune(dirfd: int, name: str, keep: Collection[int] = ()) -> None:
    """Remove `name` under `dirfd` and everything below it, except inodes in `keep`.

    A kept directory stays and is descended into (its lower children still go); a kept file stays.
    A missing `name` is not an error: there is nothing to hide.
    """
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        if st.st_ino not in keep:
            os.unlink(name, dir_fd=dirfd)
        return
    # frames: (fd of this directory, remaining child names, parent fd, own name, kept?)
    top = os.open(name, _DIR_OPEN, dir_fd=dirfd)
    frames = [(top, os.listdir(top), dirfd, name, st.st_ino in keep)]
    while frames:
        fd, children, parent, own, kept = frames[-1]
        if not children:
            frames.pop()
            os.close(fd)
            if not kept:
                try:
                    os.rmdir(own, dir_fd=parent)
                except OSError as exc:  # holds a kept entry: it is that entry's ancestor, so it stays
                    if exc.errno != errno.ENOTEMPTY:
                        raise
            continue
        child = children.pop()
        cst = os.stat(child, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(cst.st_mode):
            cfd = os.open(child, _DIR_OPEN, dir_fd=fd)
            frames.append((cfd, os.listdir(cfd), fd, child, cst.st_ino in keep))
        elif cst.st_ino not in keep:
            os.unlink(child, dir_fd=fd)
