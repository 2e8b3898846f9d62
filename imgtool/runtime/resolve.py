"""In-root path resolution: every lookup is relative to an open root fd and can never leave it.

Why not `os.path.join(root, name)`: a symlink planted by one layer (or by a racing process) would
then redirect later writes to the host (CVE-2021-29136, CVE-2018-15664, GNU tar CVE-2025-45582).
Symlinks are followed as if `root` were `/` (chroot semantics) for every component but the last,
which callers operate on with *at() calls that do not follow it.

openat2(RESOLVE_IN_ROOT) does this in the kernel when it is available; otherwise, and whenever
missing directories must be created on the way, a component-by-component O_NOFOLLOW walk emulates it,
holding an fd per level so a concurrent rename cannot move the walk outside the root.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable

from . import syscalls

MAX_SYMLINKS = 255  # continuity's limit; the kernel's is 40
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_RESOLVE = syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS

# Called with (parent fd, name, in-root path of the new directory) after the walk creates it.
OnMkdir = Callable[[int, str, str], None]


def clean(name: str) -> str:
    """Lexically normalise a tar or config path to a root-relative form ('' is the root itself).

    Absolute names and leading '..' are clamped to the root, the way moby and umoci treat them.
    """
    cleaned = posixpath.normpath("/" + name)
    return cleaned.lstrip("/") if cleaned != "/" else ""


def split(rel: str) -> tuple[str, str]:
    """Cleaned root-relative path -> (parent path, final component)."""
    parent, _, base = rel.rpartition("/")
    return parent, base


class Root:
    """An open directory that all resolution is confined to (closed with `close()` or `with`)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self.fd = os.open(self.path, _DIR_FLAGS)

    def close(self) -> None:
        """Release the root fd."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Root":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_dir(self, rel: str, create: bool = False, on_mkdir: OnMkdir | None = None) -> int:
        """An O_PATH fd for directory `rel`, symlinks followed in-root; missing ones made if `create`.

        Why both paths: openat2 is one syscall and race-free, but cannot create; the walk can.
        A non-directory in the way is an error unless `create`, where it is replaced like umoci does
        (umoci#546), because layers legitimately turn a file into a directory.
        """
        if not rel:
            return os.dup(self.fd)
        if syscalls.has_openat2():
            for _ in range(16):  # EAGAIN: a rename raced with '..' resolution somewhere; retry
                try:
                    return syscalls.openat2(self.fd, rel, _DIR_FLAGS, _RESOLVE)
                except OSError as exc:
                    if exc.errno == errno.EAGAIN:
                        continue
                    if exc.errno in (errno.ENOENT, errno.ENOTDIR) and create:
                        break
                    raise
        return self._walk(rel, create, on_mkdir)

    def open_parent(self, rel: str, create: bool = False, on_mkdir: OnMkdir | None = None) -> tuple[int, str]:
        """(fd of the parent directory, final name) for `rel`; the final name is never followed."""
        parent, base = split(rel)
        return self.open_dir(parent, create, on_mkdir), base

    def open_file(self, rel: str, flags: int = os.O_RDONLY) -> int:
        """Open an existing file in-root for reading, following symlinks in-root (e.g. /etc/passwd)."""
        if syscalls.has_openat2():
            return syscalls.openat2(self.fd, rel, flags | os.O_CLOEXEC, _RESOLVE)
        dirfd, base = self.open_parent(rel)
        try:
            for _ in range(MAX_SYMLINKS):
                fd = os.open(base, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_PATH, dir_fd=dirfd)
                if not stat.S_ISLNK(os.fstat(fd).st_mode):
                    os.close(fd)
                    return os.open(base, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
                target = os.readlink("", dir_fd=fd)
                os.close(fd)
                here = self._path_of(dirfd)
                os.close(dirfd)
                dirfd, base = self.open_parent(clean(posixpath.join(here, target)))
            raise OSError(errno.ELOOP, "too many levels of symbolic links", rel)
        finally:
            os.close(dirfd)

    def _path_of(self, dirfd: int) -> str:
        """Root-relative path of an open directory (for re-resolving a relative symlink in the fallback)."""
        full = os.readlink(f"/proc/self/fd/{dirfd}")
        rootp = os.readlink(f"/proc/self/fd/{self.fd}")
        return posixpath.relpath(full, rootp) if full != rootp else ""

    def _walk(self, rel: str, create: bool, on_mkdir: OnMkdir | None) -> int:
        """Resolve `rel` one component at a time with O_NOFOLLOW, emulating symlinks with the root as '/'.

        Keeps one fd per level (so '..' is our own pop, never the kernel's) and the in-root names
        beside them, so a created directory can be reported with its resolved path.
        """
        fds = [os.dup(self.fd)]
        names: list[str] = []
        pending = list(reversed(rel.split("/")))
        links = 0
        try:
            while pending:
                comp = pending.pop()
                if comp in ("", "."):
                    continue
                if comp == "..":
                    if len(fds) > 1:
                        os.close(fds.pop())
                        names.pop()
                    continue
                fd = self._step(fds[-1], comp, names, create, on_mkdir)
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode):
                    fds.append(fd)
                    names.append(comp)
                    continue
                if stat.S_ISLNK(st.st_mode):
                    target = os.readlink("", dir_fd=fd)
                    os.close(fd)
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links", rel)
                    if target.startswith("/"):
                        while len(fds) > 1:
                            os.close(fds.pop())
                        names.clear()
                    pending.extend(reversed(target.split("/")))
                    continue
                os.close(fd)
                if not create:
                    raise OSError(errno.ENOTDIR, "not a directory", rel)
                os.unlink(comp, dir_fd=fds[-1])  # a file where a directory must be: replace it
                pending.append(comp)
            result = fds.pop()
            return result
        finally:
            for fd in fds:
                os.close(fd)

    @staticmethod
    def _step(dirfd: int, comp: str, names: list[str], create: bool, on_mkdir: OnMkdir | None) -> int:
        """Open one component without following it, creating a directory there if asked."""
        try:
            return os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        except FileNotFoundError:
            if not create:
                raise
        try:
            os.mkdir(comp, 0o755, dir_fd=dirfd)
            if on_mkdir is not None:
                on_mkdir(dirfd, comp, "/".join([*names, comp]))
        except FileExistsError:
            pass  # lost a race with a concurrent creator: whatever is there is examined next
        return os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
