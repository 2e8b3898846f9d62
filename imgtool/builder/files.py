"""COPY/ADD/WORKDIR file operations, run inside the step's overlay after chroot into it.

Why chroot: the kernel then resolves every destination path, symlink and `..` against the image
being built, never the host, and `--chown` names are read from the image's own /etc/passwd. Sources
are read relative to a directory fd opened before the chroot (the context, or another stage's root).
BuildKit's rules: each source (each wildcard match) is copied on its own, in order: a directory
copies its contents; a file goes into `dest` when `dest` ends in `/` or is a directory by then, else
to `dest` itself (so `COPY *.txt /f` matching one file makes the file /f). Several sources into an
existing directory without the `/` go into it, as in BuildKit; into anything else they are an
error, as the Dockerfile reference says, where BuildKit copies each onto the same path and keeps
the last (moby/buildkit#1853, an open bug; docs/builder.md). Missing parents are made
0755; owners are root unless `--chown` (COPY --from keeps the source stage's owners, as BuildKit does);
hardlinks among the copied files stay hardlinks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import posixpath
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen

from . import unpack
from .chmod import parse_chmod


class FileStepError(ImgtoolError):
    """A COPY/ADD/WORKDIR that cannot be carried out (unknown --chown user, a file in the way, ...)."""


@frozen
class Source:
    """One selected source: its path under the source root (resolved), whether it is a directory,
    and for directories the members below it as (relative path, lstat) in walk order."""

    rel: str
    st: os.stat_result
    members: tuple[tuple[str, os.stat_result], ...] = ()
    data: bytes | None = None  # heredoc or downloaded content instead of a file
    name: str = ""  # the file name at the destination: a `data` source's, or what a symlink was called
    extract: bool = False  # ADD: unpack if it is a tar archive
    pivot: str = ""  # `COPY --parents a/./b`: the directories above the `/./`, which are not kept

    @property
    def kept(self) -> str:
        """The path --parents recreates under the destination: `rel` below the pivot."""
        if self.pivot and self.rel.startswith(self.pivot + "/"):
            return self.rel[len(self.pivot) + 1:]
        return self.rel


def pivot(pattern: str) -> str:
    """The directories above a `--parents` source's first `/./` (BuildKit's strings.Cut of the
    source), which the copy leaves out: `./x/./y/*.txt` keeps `y/a.txt`; "" without one."""
    head, found, _ = pattern.partition("/./")
    return "/".join(p for p in head.split("/") if p not in ("", ".")) if found else ""


@dataclass
class CopyPlan:
    """Everything the chrooted copy needs."""

    sources: list[Source]
    dest: str  # absolute, as written (a trailing / means a directory)
    instruction: str = "COPY"
    chown: str | None = None
    chmod: str | None = None
    parents: bool = False
    keep_owner: bool = False  # COPY --from without --chown: files keep the source stage's owners
    from_context: bool = True  # sources are the build context (not another stage or image)
    links: dict[tuple[int, int], str] = field(default_factory=dict)


_THREADS = 4
_PARALLEL_MIN = 256  # below this, threads cost more than they save
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_T = TypeVar("_T")


def load_before_chroot() -> None:
    """Import everything the chrooted copy may use: once chrooted, no module file can be found.

    Why here and not at the top: a COPY's cache key is worked out with this module too (`Source`),
    and a cached step never chroots; tar with its bzip2/xz codecs, isal and zstandard (which
    layer.compression imports lazily), the thread pool and the passwd reader were ~4 ms of every
    cached build's imports. The functions below import them by name, found in sys.modules.
    """
    import bz2  # noqa: F401 - tarfile imports it lazily
    import concurrent.futures.thread  # noqa: F401 - ThreadPoolExecutor is loaded on first use
    import lzma  # noqa: F401
    import tarfile  # noqa: F401

    import isal.igzip  # noqa: F401
    import isal.isal_zlib  # noqa: F401
    import zstandard  # noqa: F401

    from imgtool.runtime import users  # noqa: F401


def resolve_owner(spec: str | None, root: str = "/") -> tuple[int, int]:
    """`user[:group]` for --chown, against the passwd/group of the image at `root` (by default
    the one we are chrooted into; a `COPY --link` writes onto scratch and names the stage's)."""
    from imgtool.runtime import users

    if not spec:
        return 0, 0
    user, _, group = spec.partition(":")
    try:
        if users.numeric_id(user) is not None:
            uid = gid = int(user)
        else:
            found = users.lookup(root, user)
            uid, gid = found.uid, found.gid
        if group:
            gid = int(group) if users.numeric_id(group) is not None else users.lookup(root, f"0:{group}").gid
    except users.UserError as exc:
        raise FileStepError(f"--chown={spec}: {exc}") from None
    return uid, gid


def _mkdirs(path: str, uid: int, gid: int) -> None:
    """mkdir -p with 0755 and the step's owner for every directory created.

    A dangling symlink on the way is followed and its target made, as BuildKit's MkdirAll under
    fs.RootPath does (`WORKDIR /link/sub` with /link -> /missing makes /missing/sub, docker 20.10
    too, tests/builder/differential edge-workdir-links); we are chrooted, so realpath stays in the image.
    """
    parts = [p for p in path.split("/") if p]
    current = ""
    for part in parts:
        current += "/" + part
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            if os.path.islink(current) and not os.path.exists(current):
                _mkdirs(os.path.realpath(current), uid, gid)
            elif not os.path.isdir(current):
                raise FileStepError(f"cannot create directory {current}: a file is in the way") from None
            continue
        os.chown(current, uid, gid)
        os.chmod(current, 0o755)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _followed(dest: str) -> str:
    """A file's own destination, through a symlink that is there: BuildKit resolves the whole
    `dest` in the image (fsutil's Copy, fs.RootPath), so `COPY f /link` writes the file the link
    names, even a missing one (docker 20.10 too, edge-copy-onto), while an entry copied *into* a
    directory replaces a symlink of its name."""
    return os.path.realpath(dest) if os.path.islink(dest) else dest


def _replacing(make: Callable[[], _T], target: str) -> _T:
    """`make()` a new node at `target`, replacing whatever is there (a COPY overwrites).

    Why create first and clear only on EEXIST: every create here is exclusive (O_EXCL, symlink,
    link, mknod), so the outcome is the same as clearing first, and a new path (nearly every entry
    of a COPY) costs no lookup before it; on the overlay a failed lookup asks every lower dir.
    """
    try:
        return make()
    except FileExistsError:
        _remove(target)
        return make()


class Copier:
    """Writes sources from `src_fd` into the chrooted image."""

    def __init__(self, src_fd: int, plan: CopyPlan):
        self.src_fd = src_fd
        self.plan = plan
        self.uid, self.gid = resolve_owner(plan.chown)
        self.chmod = parse_chmod(plan.chmod) if plan.chmod else None
        self.links: dict[tuple[int, int], str] = {}

    def mode(self, st: os.stat_result) -> int:
        base = stat.S_IMODE(st.st_mode)
        return self.chmod(base, stat.S_ISDIR(st.st_mode)) if self.chmod else base  # type: ignore[operator]

    def run(self) -> None:
        plan = self.plan
        dest = plan.dest
        if len(plan.sources) > 1 and not dest.endswith("/") and not os.path.isdir(dest):
            raise FileStepError(f"When using {plan.instruction} with more than one source file, "
                                "the destination must be a directory and end with a /")
        for source in plan.sources:
            self.links = {}  # hardlinks are kept within one source, not across (BuildKit copies each alone)
            into_dir = dest.endswith("/") or os.path.isdir(dest)  # again for each: an earlier one may have made it
            if source.data is not None:
                target = posixpath.join(dest, source.name) if into_dir else _followed(dest)
                self.write_data(target, source)
                continue
            if plan.parents:
                target_base = posixpath.join(dest, posixpath.dirname(source.kept)) if source.kept else dest
            else:
                target_base = dest
            if stat.S_ISDIR(source.st.st_mode):
                base = posixpath.join(dest, source.kept) if plan.parents else target_base
                self.copy_dir(source, base)
            elif source.extract and self.try_extract(source, dest):
                continue
            else:
                name = source.name or posixpath.basename(source.rel)
                target = posixpath.join(target_base, name) if into_dir or plan.parents else _followed(dest)
                _mkdirs(posixpath.dirname(target) or "/", self.uid, self.gid)
                self.copy_one(source.rel, source.st, target)

    def copy_dir(self, source: Source, base: str) -> None:
        base = _followed(base.rstrip("/") or "/")
        if not os.path.isdir(base):
            if os.path.lexists(base):  # BuildKit's copyDirectory refuses to replace a file
                raise FileStepError(f"cannot copy to non-directory: {base}")
            _mkdirs(posixpath.dirname(base) or "/", self.uid, self.gid)
            # BuildKit creates the destination 0755 (with --chown's owner), whatever the source
            # directory's mode or --chmod; only what is copied into it gets those
            os.mkdir(base, 0o755)
            os.chown(base, self.uid, self.gid)
            os.chmod(base, 0o755)
        self.copy_members(source.rel, source.members, base)

    def copy_members(self, rel: str, members: tuple[tuple[str, os.stat_result], ...], base: str) -> None:
        """Directories first (walk order: parents before children), then the other entries on a
        few threads (creating files is syscall-bound and releases the GIL), hardlinked files last
        and in order, so the first name of each group carries the data."""
        prefix = rel + "/" if rel else ""
        later: list[tuple[str, os.stat_result]] = []
        linked: list[tuple[str, os.stat_result]] = []
        for member, st in members:
            if stat.S_ISDIR(st.st_mode):
                self.copy_one(prefix + member, st, posixpath.join(base, member))
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                linked.append((member, st))
            else:
                later.append((member, st))

        def one(item: tuple[str, os.stat_result]) -> None:
            self.copy_one(prefix + item[0], item[1], posixpath.join(base, item[0]))

        if len(later) > _PARALLEL_MIN:
            with concurrent.futures.ThreadPoolExecutor(_THREADS) as pool:
                for _ in pool.map(one, later, chunksize=64):
                    pass
        else:
            for item in later:
                one(item)
        for item in linked:
            one(item)

    def copy_one(self, src: str, st: os.stat_result, target: str) -> None:
        """One entry, as its lstat says: directory, file (hardlinks kept), symlink, fifo or device."""
        mode = self.mode(st)
        uid, gid = (st.st_uid, st.st_gid) if self.plan.keep_owner else (self.uid, self.gid)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(target) and not os.path.isdir(target):
                _remove(target)
            if not os.path.isdir(target):
                os.mkdir(target, 0o700)
            os.chown(target, uid, gid)
            os.chmod(target, mode)
            return
        if stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                _replacing(lambda: os.link(self.links[key], target), target)
                return
            fd = os.open(src or ".", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.src_fd)
            try:
                out = _replacing(lambda: os.open(target, _NEW_FILE, 0o600), target)
                try:
                    _copy_fd(fd, out, st.st_size)
                    os.fchown(out, uid, gid)
                    os.fchmod(out, mode)
                finally:
                    os.close(out)
            finally:
                os.close(fd)
            if st.st_nlink > 1:
                self.links[key] = target
        elif stat.S_ISLNK(st.st_mode):
            link = os.readlink(src, dir_fd=self.src_fd)
            _replacing(lambda: os.symlink(link, target), target)
            os.chown(target, uid, gid, follow_symlinks=False)
        elif stat.S_ISSOCK(st.st_mode) and self.plan.from_context:
            self.socket_from_context(target, uid, gid, mode)
        elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) \
                or stat.S_ISSOCK(st.st_mode):
            _replacing(lambda: os.mknod(target, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev), target)
            os.chown(target, uid, gid)
            os.chmod(target, mode)

    @staticmethod
    def socket_from_context(target: str, uid: int, gid: int, mode: int) -> None:
        """A socket in the build context arrives as an empty regular file with the socket's
        permissions: fsutil's stat clears the socket bit before sending (docker 20.10 and current
        BuildKit alike, tests/builder/differential edge-context-special). From another stage a
        socket is recreated, as fsutil's copyDevice does."""
        out = _replacing(lambda: os.open(target, _NEW_FILE, 0o600), target)
        try:
            os.fchown(out, uid, gid)
            os.fchmod(out, mode)
        finally:
            os.close(out)

    def write_data(self, target: str, source: Source) -> None:
        _mkdirs(posixpath.dirname(target) or "/", self.uid, self.gid)
        fd = _replacing(lambda: os.open(target, _NEW_FILE, 0o600), target)
        try:
            os.write(fd, source.data or b"")
            os.fchown(fd, self.uid, self.gid)
            os.fchmod(fd, self.mode(source.st))
        finally:
            os.close(fd)

    def try_extract(self, source: Source, dest: str) -> bool:
        """ADD of a local tar archive (plain, gzip, bzip2, xz, zstd): unpack into `dest`."""
        fd = os.open(source.rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.src_fd)
        with os.fdopen(fd, "rb") as raw:
            return unpack.unpack(raw, dest, lambda: _mkdirs(dest, self.uid, self.gid), _remove)


def _copy_fd(src: int, dst: int, size: int) -> None:
    copied = 0
    while copied < size:
        try:
            n = os.copy_file_range(src, dst, size - copied)
        except OSError:
            n = 0
        if n == 0:
            while chunk := os.read(src, 1 << 20):
                os.write(dst, chunk)
            return
        copied += n


def make_workdir(path: str, user: str | None) -> None:
    """WORKDIR: create the directory (and parents) owned by the stage's USER, as BuildKit's mkdir.

    Unlike --chown, a USER name that passwd or group does not have is no error here: BuildKit's
    mkdir keeps uid 0 (or the user's own group) for it, and the RUN that follows reports the name.
    """
    uid = gid = 0
    name, _, group = (user or "").partition(":")
    with contextlib.suppress(FileStepError):
        uid, gid = resolve_owner(name)
    if group:
        with contextlib.suppress(FileStepError):
            gid = resolve_owner(f"0:{group}")[1]
    _mkdirs(path, uid, gid)
