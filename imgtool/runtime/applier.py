"""The layer applier: one tar layer applied onto a root directory, as image-spec layer.md says.

Layers come from anyone, so this is a security boundary and deliberately not `tarfile.extractall`
(its filters reject real images' absolute symlinks and devices, strip setuid, and have a bypass
history). tarfile only parses headers. Every filesystem operation goes through `resolve.Root`:
parents are resolved in-root, the final component is never followed, and hardlink targets are
resolved in-root without following their last component either (CVE-2021-32760).

Policies (tests in tests/runtime/test_hostile_layers.py name the cases T1-T43):
- names are cleaned lexically and clamped to the root (`/../x` is `x`); NUL, components over 255
  bytes, paths over PATH_MAX, sparse files, oversized PAX/long-name headers and uid/gid -1 are
  rejected; the root entry must be a directory (CVE-2021-29136).
- a whiteout deletes only lower-layer content: anything this layer created or touched survives
  (umoci's upperPaths, tracked here by inode to keep memory small), for `.wh.x` and opaque alike.
  `.wh.`, `.wh..`, `.wh...` and other `.wh..wh.` names are rejected; a `.wh.` prefix on a directory
  component is just a name (as containerd).
- owner, then mode (so setuid survives), then xattrs (security.capability survives the chown),
  then times; directory times at the very end. security.selinux, system.nfs4_acl and overlayfs'
  own xattrs are never applied.
- a hardlink whose target appears later in the same layer is retried at the end of the layer.
- a regular file of 1-64 MiB may have its content and metadata written by a second writer thread
  while the next entries are applied: ext4 serialises buffered writes per inode but copies two
  files' pages into the page cache on two cores at once, and that copy was most of the time of
  unpacking a 200 MB layer. Its inode joins this layer's set before the next entry is read (so a
  whiteout later in the layer cannot remove it), and the writer is settled before the layer's
  late hardlinks and directory times and before `apply_layer` returns or raises.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import tarfile
from concurrent.futures import Future, ThreadPoolExecutor

from imgtool.errors import LayerError
from imgtool.layer import whiteout
from imgtool.layer.layer import Layer
from imgtool.layer.tarstream import TarStream
from imgtool.layer.verify import VerifiedLayer
from imgtool.oci.digest import Digest

from . import resolve
from .prune import list_dir, prune

PATH_MAX = 4096
NAME_MAX = 255
MAX_ENTRIES = int(os.environ.get("IMGTOOL_MAX_LAYER_ENTRIES", 10_000_000))
_ID_MAX = 0xFFFFFFFE  # 0xFFFFFFFF is "unchanged" to chown(2)
_SKIP_XATTRS = ("security.selinux", "system.nfs4_acl", "trusted.overlay.", "user.overlay.")
_REG_TYPES = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE}
# files the second writer takes: smaller ones are not worth a hand-off; its whole content is held
# in memory until written, so the upper bound is what one queued file can pin
_BACKGROUND_MIN = 1 << 20
_BACKGROUND_MAX = 64 << 20


def _clamp_time(value: float) -> float:
    """PAX times can be NaN, infinite or absurd; clamp to what utimensat and ext4 accept."""
    if not math.isfinite(value):
        return 0.0
    return min(max(value, -(2**31)), 2**34)


class _LayerApply:
    """State of one layer being applied: the root, the parent-fd cache and this layer's inodes."""

    def __init__(self, root: resolve.Root):
        self.root = root
        self.upper: set[int] = set()  # inodes created or touched by this layer
        self.dir_times: list[tuple[str, float]] = []
        self.pending_links: list[tarfile.TarInfo] = []
        self._parents: dict[str, int] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._written: Future | None = None  # the writer's one file in flight

    # -- parents ---------------------------------------------------------------------------------
    def _on_mkdir(self, dirfd: int, name: str, _rel: str) -> None:
        self.upper.add(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_ino)

    def parent(self, rel: str) -> tuple[int, str]:
        """Cached parent fd (created in-root if missing) and base name of `rel`."""
        parent, base = resolve.split(rel)
        fd = self._parents.get(parent)
        if fd is None:
            if len(self._parents) >= 256:
                self.forget_parents()
            fd = self.root.open_dir(parent, create=True, on_mkdir=self._on_mkdir)
            self.upper.add(os.fstat(fd).st_ino)
            self._parents[parent] = fd
        return fd, base

    def close(self) -> None:
        """Cached fds closed and the second writer stopped (waited for: its file's fd is closed and
        nothing writes into the root after this, even when the layer failed)."""
        self.forget_parents()
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def forget_parents(self) -> None:
        """Drop cached parent fds: after anything is removed, a cached name may mean something else."""
        for fd in self._parents.values():
            os.close(fd)
        self._parents.clear()

    # -- entries ---------------------------------------------------------------------------------
    def entry(self, member: tarfile.TarInfo, tar: TarStream) -> None:
        """Apply one tar member: a whiteout, the root directory, or a path to (re)create."""
        rel = _checked_name(member.name)
        base = rel.rpartition("/")[2]
        if base.startswith(whiteout.PREFIX):
            self.whiteout(rel, member)
        elif not rel:
            if not member.isdir():
                raise LayerError("malicious tar entry: refusing to change the type of the root directory")
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.root.fd)
            try:
                self.metadata_dir(fd, member, "")
            finally:
                os.close(fd)
        elif member.islnk():
            if not self.hardlink(rel, member):
                self.pending_links.append(member)
        else:
            self.create(rel, member, tar)

    def whiteout(self, rel: str, member: tarfile.TarInfo) -> None:
        """`.wh.x` removes lower `x`; `.wh..wh..opq` empties the directory of lower content."""
        parent, base = resolve.split(rel)
        if base == whiteout.OPAQUE:
            fd = self.root.open_dir(parent, create=True, on_mkdir=self._on_mkdir)
            try:
                self.upper.add(os.fstat(fd).st_ino)
                for child in list_dir(fd):
                    self._remove(fd, child, keep_upper=True)
            finally:
                os.close(fd)
            return
        target = base[len(whiteout.PREFIX):]
        if target in ("", ".", "..") or target.startswith(whiteout.PREFIX):
            raise LayerError(f"invalid whiteout entry {member.name!r}")
        try:
            fd = self.root.open_dir(parent)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return  # nothing below to hide (T26: dangling or missing parent)
            raise
        try:
            self._remove(fd, target, keep_upper=True)
        finally:
            os.close(fd)

    def _remove(self, dirfd: int, name: str, keep_upper: bool) -> None:
        prune(dirfd, name, self.upper if keep_upper else frozenset())
        self.forget_parents()  # closes `dirfd` too if it was cached: callers re-fetch their parent

    def _clear(self, pfd: int, base: str, want_dir: bool) -> bool:
        """Make room for a new entry (layer.md: unlink, then recreate). True if a directory stays."""
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if want_dir and stat.S_ISDIR(st.st_mode):
            return True
        self._remove(pfd, base, keep_upper=False)
        return False

    def create(self, rel: str, member: tarfile.TarInfo, tar: TarStream) -> None:
        """Create a directory, file, symlink, device or FIFO at `rel`, then set its metadata.

        Why create first and clear only on EEXIST: in the common case (a new path) that is one
        lookup fewer per entry, and the outcome is layer.md's unlink-then-recreate either way,
        since every create is O_EXCL / mkdir / mknod and never follows what is already there.
        """
        pfd, base = self.parent(rel)
        try:
            self._make(pfd, base, rel, member, tar)
            return
        except FileExistsError:
            keep_dir = self._clear(pfd, base, member.isdir())
        pfd, base = self.parent(rel)  # the cache may have been dropped by the removal
        if keep_dir:  # directory onto directory: only its metadata changes
            self._dir_metadata(pfd, base, rel, member)
        else:
            self._make(pfd, base, rel, member, tar)

    def _make(self, pfd: int, base: str, rel: str, member: tarfile.TarInfo, tar: TarStream) -> None:
        """The new node and its metadata; FileExistsError (nothing done) if `base` is taken."""
        if member.type in _REG_TYPES:
            self.write_file(pfd, base, member, tar)
            return
        if member.isdir():
            os.mkdir(base, 0o700, dir_fd=pfd)
            self._dir_metadata(pfd, base, rel, member)
            return
        if member.issym():
            os.symlink(member.linkname, base, dir_fd=pfd)
        elif member.ischr() or member.isblk():
            if not (0 <= member.devmajor <= 0xFFFFFFFF and 0 <= member.devminor <= 0xFFFFFFFF):
                raise LayerError(f"{member.name!r}: device number out of range")
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
        else:
            raise LayerError(f"{member.name!r}: unsupported tar entry type {member.type!r}")
        self.metadata_other(pfd, base, member)

    def _dir_metadata(self, pfd: int, base: str, rel: str, member: tarfile.TarInfo) -> None:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            self.metadata_dir(fd, member, rel)
        finally:
            os.close(fd)

    def write_file(self, pfd: int, base: str, member: tarfile.TarInfo, tar: TarStream) -> None:
        """A regular file: created O_EXCL|O_NOFOLLOW (never written through an existing link), its
        content written straight from the inflater's chunks, here or by the second writer."""
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            self.upper.add(os.fstat(fd).st_ino)
            views = list(tar.content(member)) if self._writer_free(member.size) else None
        except BaseException:
            os.close(fd)
            raise
        if views is None:
            _fill(fd, tar.content(member), member)
        else:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="layer-write")
            self._written = self._writer.submit(_fill, fd, views, member)

    def _writer_free(self, size: int) -> bool:
        """Whether a file of `size` bytes goes to the second writer: in range and the writer idle."""
        if not _BACKGROUND_MIN <= size <= _BACKGROUND_MAX:
            return False
        if self._written is not None and not self._written.done():
            return False
        self.settle()
        return True

    def settle(self) -> None:
        """Wait for the second writer's file; its error (a LayerError naming that file) is raised here."""
        if self._written is not None:
            written, self._written = self._written, None
            written.result()

    def metadata_dir(self, fd: int, member: tarfile.TarInfo, rel: str) -> None:
        """Directory metadata now, its times at the end of the layer (later entries change them)."""
        _owner_mode(fd, member)
        _xattrs(fd, member)
        self.upper.add(os.fstat(fd).st_ino)
        self.dir_times.append((rel, _clamp_time(member.mtime)))

    def metadata_other(self, pfd: int, base: str, member: tarfile.TarInfo) -> None:
        """Symlinks, devices and FIFOs: cannot be opened for writing, so work via O_PATH / *at()."""
        _check_ids(member)
        os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(member.mode))
                _xattrs(f"/proc/self/fd/{fd}", member)
            self.upper.add(st.st_ino)
        finally:
            os.close(fd)
        t = _clamp_time(member.mtime)
        os.utime(base, (t, t), dir_fd=pfd, follow_symlinks=False)

    def hardlink(self, rel: str, member: tarfile.TarInfo) -> bool:
        """Link `rel` to the in-root target inode (a symlink stays a symlink). False if not there yet."""
        target = resolve.clean(member.linkname)
        if not target:
            raise LayerError(f"hardlink {member.name!r} points at the root directory")
        try:
            tfd, tbase = self.root.open_parent(target)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return False
            raise
        try:
            try:
                tst = os.stat(tbase, dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            if stat.S_ISDIR(tst.st_mode):
                raise LayerError(f"hardlink {member.name!r} points at a directory")
            pfd, base = self.parent(rel)
            self._clear(pfd, base, False)
            pfd, base = self.parent(rel)  # the cache may have been dropped by the removal
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)
        return True

    def finish(self) -> None:
        """Late hardlinks, then directory times (deepest last is fine: utime changes no parent)."""
        self.settle()
        for member in self.pending_links:
            if not self.hardlink(resolve.clean(member.name), member):
                raise LayerError(f"hardlink {member.name!r}: target {member.linkname!r} is not in the image")
        for rel, t in self.dir_times:
            try:
                pfd, base = self.root.open_parent(rel)
            except OSError:
                continue  # removed later in the layer
            try:
                os.utime(base or ".", (t, t), dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            finally:
                os.close(pfd)
        self.forget_parents()


def _checked_name(name: str) -> str:
    """The cleaned in-root path of an entry, or LayerError for names no filesystem should see."""
    if "\x00" in name:
        raise LayerError(f"tar entry name contains NUL: {name!r}")
    raw = os.fsencode(name)
    if len(raw) >= PATH_MAX:
        raise LayerError(f"tar entry name longer than {PATH_MAX} bytes")
    if any(len(part) > NAME_MAX for part in raw.split(b"/")):
        raise LayerError(f"tar entry {name[:64]!r}...: a component is longer than {NAME_MAX} bytes")
    return resolve.clean(name)


def _fill(fd: int, views, member: tarfile.TarInfo) -> None:
    """Content, owner, mode, xattrs and times of a new regular file, then its fd closed. OSError is
    turned into the entry's LayerError here: on the second writer it surfaces at a later entry."""
    try:
        for view in views:
            while view:
                view = view[os.write(fd, view):]
        _owner_mode(fd, member)
        _xattrs(fd, member)
        t = _clamp_time(member.mtime)
        os.utime(fd, (t, t))
    except OSError as exc:
        raise LayerError(f"tar entry {member.name!r}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _check_ids(member: tarfile.TarInfo) -> None:
    for what, value in (("uid", member.uid), ("gid", member.gid)):
        if not 0 <= value <= _ID_MAX:
            raise LayerError(f"{member.name!r}: {what} {value} out of range")


def _owner_mode(fd: int, member: tarfile.TarInfo) -> None:
    """chown before chmod: chown clears setuid/setgid, so the mode must come after it."""
    _check_ids(member)
    os.fchown(fd, member.uid, member.gid)
    os.fchmod(fd, stat.S_IMODE(member.mode))


def _xattrs(target: int | str, member: tarfile.TarInfo) -> None:
    """PAX SCHILY.xattr.* records, minus host-policy and overlay-internal names."""
    for key, value in member.pax_headers.items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr."):]
        if name.startswith(_SKIP_XATTRS):
            continue
        try:
            os.setxattr(target, name, value.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EPERM) and name.startswith("user."):
                continue
            if exc.errno in (errno.E2BIG, errno.ERANGE, errno.ENOSPC):
                raise LayerError(f"{member.name!r}: xattr {name} too large") from None
            raise


def apply_layer(stream: VerifiedLayer, root: str | os.PathLike[str]) -> Digest:
    """Apply a layer's verified tar stream onto `root`; returns its DiffID once verified.

    Takes the stream, not the blob, so every caller verifies the same way (`Layer.open_uncompressed()`).
    On error the root is left partly applied: callers apply into a staging directory they discard.
    """
    entries = 0
    with resolve.Root(root) as rootdir:
        state = _LayerApply(rootdir)
        try:
            tar = TarStream(stream)
            for member in tar:
                entries += 1
                if entries > MAX_ENTRIES:
                    raise LayerError(f"layer has more than {MAX_ENTRIES} entries (IMGTOOL_MAX_LAYER_ENTRIES)")
                try:
                    state.entry(member, tar)
                except OSError as exc:
                    raise LayerError(f"tar entry {member.name!r}: {exc.strerror or exc}") from None
            state.finish()
        except (tarfile.TarError, EOFError) as exc:
            raise LayerError(f"corrupt tar: {exc}") from None
        finally:
            state.close()
    stream.drain()
    return stream.verify()


def apply(layer: Layer, root: str | os.PathLike[str]) -> Digest:
    """Open a layer, apply it onto `root` and verify it (the usual case of `apply_layer`)."""
    with layer.open_uncompressed() as stream:
        return apply_layer(stream, root)
