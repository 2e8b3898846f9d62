"""The container's filesystem: spec mounts, /dev, linux.devices, masked and read-only paths.

Every mount target is opened in-root first and mounted through /proc/self/fd/N, so a symlink
swapped in by the image or a racing process cannot redirect a mount to the host (CVE-2021-30465,
R6); a mount is re-resolved after it is made before it is remounted or given a propagation, because
the old fd still names the covered directory, not the new mount. /dev/null is checked to be the
real 1:3 device before it masks anything (CVE-2025-31133, R5).
"""

from __future__ import annotations

import os
import stat

from . import syscalls
from .resolve import Root, clean

_FLAGS = {
    "ro": (syscalls.MS_RDONLY, True), "rw": (syscalls.MS_RDONLY, False),
    "nosuid": (syscalls.MS_NOSUID, True), "suid": (syscalls.MS_NOSUID, False),
    "nodev": (syscalls.MS_NODEV, True), "dev": (syscalls.MS_NODEV, False),
    "noexec": (syscalls.MS_NOEXEC, True), "exec": (syscalls.MS_NOEXEC, False),
    "strictatime": (syscalls.MS_STRICTATIME, True), "relatime": (syscalls.MS_RELATIME, True),
    "noatime": (syscalls.MS_NOATIME, True), "nodiratime": (syscalls.MS_NODIRATIME, True),
    "sync": (syscalls.MS_SYNCHRONOUS, True), "async": (syscalls.MS_SYNCHRONOUS, False),
    "dirsync": (syscalls.MS_DIRSYNC, True), "mand": (syscalls.MS_MANDLOCK, True),
    "nomand": (syscalls.MS_MANDLOCK, False), "atime": (syscalls.MS_NOATIME, False),
    "bind": (syscalls.MS_BIND, True), "rbind": (syscalls.MS_BIND | syscalls.MS_REC, True),
}
PROPAGATION = {
    "private": syscalls.MS_PRIVATE, "rprivate": syscalls.MS_PRIVATE | syscalls.MS_REC,
    "slave": syscalls.MS_SLAVE, "rslave": syscalls.MS_SLAVE | syscalls.MS_REC,
    "shared": syscalls.MS_SHARED, "rshared": syscalls.MS_SHARED | syscalls.MS_REC,
    "unbindable": syscalls.MS_UNBINDABLE, "runbindable": syscalls.MS_UNBINDABLE | syscalls.MS_REC,
}
MOUNT_OPTIONS = tuple(_FLAGS) + tuple(PROPAGATION)  # what `features` advertises
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))
_DEVICE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


class MountError(Exception):
    """A mount that cannot be made as asked (message names the destination)."""


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, fs data) from runtime-spec mount options."""
    flags, propagation, data = 0, 0, []
    for opt in options:
        if opt in _FLAGS:
            bit, on = _FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in PROPAGATION:
            propagation = PROPAGATION[opt]
        else:
            data.append(opt)  # filesystem-specific (mode=755, size=65536k, newinstance, ...)
    return flags, propagation, ",".join(data)


class Filesystem:
    """Sets up the rootfs below `root`, recording mount points it had to create (`stubs`)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.stubs: list[str] = []

    def target(self, root: Root, dest: str, want_dir: bool) -> int:
        """O_PATH fd of a mount destination resolved in-root, created (and recorded) if missing."""
        rel = clean(dest)
        made = lambda _fd, _n, path: self.stubs.append(path)  # noqa: E731
        if want_dir:
            return root.open_dir(rel, create=True, on_mkdir=made)
        parent, base = root.open_parent(rel, create=True, on_mkdir=made)
        try:
            try:
                fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                os.close(os.open(base, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=parent))
                self.stubs.append(rel)
                fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                os.close(fd)
                return root.open_file(rel, os.O_PATH)
            return fd
        finally:
            os.close(parent)

    def _on_new_mount(self, root: Root, dest: str, want_dir: bool, flags: int, propagation: int) -> None:
        fd = self.target(root, dest, want_dir)  # re-resolved: now the new mount's root
        try:
            if flags:
                syscalls.mount(None, f"/proc/self/fd/{fd}", None, syscalls.MS_BIND | syscalls.MS_REMOUNT | flags)
            if propagation:
                syscalls.mount(None, f"/proc/self/fd/{fd}", None, propagation)
        finally:
            os.close(fd)

    def mount_one(self, root: Root, m: dict) -> None:
        """One entry of `mounts`, onto its in-root destination."""
        mtype, source = m.get("type") or "", m.get("source") or ""
        flags, propagation, data = parse_options(m.get("options") or [])
        is_bind = bool(flags & syscalls.MS_BIND) or mtype == "bind"
        if is_bind and data:
            raise MountError(f"mount {m['destination']}: bind mount with filesystem options {data!r}")
        want_dir = not is_bind or os.path.isdir(source)
        fd = self.target(root, m["destination"], want_dir)
        try:
            st, rst = os.fstat(fd), os.fstat(root.fd)
            if (st.st_dev, st.st_ino) == (rst.st_dev, rst.st_ino):
                raise MountError(f"mount destination {m['destination']} resolves to the container's root")
            path = f"/proc/self/fd/{fd}"
            if is_bind:
                syscalls.mount(source, path, None, syscalls.MS_BIND | (flags & syscalls.MS_REC))
                flags &= ~(syscalls.MS_BIND | syscalls.MS_REC)
            elif mtype == "cgroup":
                if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                    syscalls.mount("cgroup2", path, "cgroup2", flags)
                else:
                    syscalls.mount("tmpfs", path, "tmpfs", flags | syscalls.MS_RDONLY, "mode=755")
                flags = 0
            else:
                syscalls.mount(source or mtype, path, mtype, flags, data or None)
                flags = 0
        finally:
            os.close(fd)
        if flags or propagation:
            self._on_new_mount(root, m["destination"], want_dir, flags, propagation)

    def mount_all(self, root: Root) -> None:
        """Every spec mount in order, then /dev's nodes when /dev is a fresh tmpfs, then linux.devices."""
        mounts = self.spec.get("mounts") or []
        for m in mounts:
            try:
                self.mount_one(root, m)
            except OSError as exc:
                raise MountError(f"mount {m.get('type')} on {m.get('destination')}: {exc.strerror}") from None
        if any(clean(m["destination"]) == "dev" and m.get("type") == "tmpfs" for m in mounts):
            self.make_dev(root)
        for i, dev in enumerate((self.spec.get("linux") or {}).get("devices") or []):
            self.make_device(root, dev, f"linux.devices[{i}]")

    def make_dev(self, root: Root) -> None:
        """Device nodes and links in a fresh /dev tmpfs, all via the /dev fd (CVE-2026-41579)."""
        dev = root.open_dir("dev")
        try:
            real = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dev)
            for name, major, minor in _DEVICES:
                try:
                    os.mknod(name, stat.S_IFCHR | 0o666, os.makedev(major, minor), dir_fd=real)
                    os.chmod(f"/proc/self/fd/{real}/{name}", 0o666)
                except FileExistsError:
                    pass
            for name, target in _DEV_LINKS:
                try:
                    os.symlink(target, name, dir_fd=real)
                except FileExistsError:
                    pass
            os.close(real)
        finally:
            os.close(dev)

    def make_device(self, root: Root, dev: dict, where: str) -> None:
        """One linux.devices entry: the node at its in-root path (an existing different file is an error)."""
        kind = _DEVICE_TYPES.get(dev.get("type", ""))
        if kind is None or not dev.get("path"):
            raise MountError(f"{where}: needs a path and a type of c, b, u or p")
        rdev = 0 if kind == stat.S_IFIFO else os.makedev(dev.get("major", 0), dev.get("minor", 0))
        parent, base = root.open_parent(clean(dev["path"]), create=True)
        try:
            real = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent)
            try:
                try:
                    os.mknod(base, kind | (dev.get("fileMode", 0o666) & 0o7777), rdev, dir_fd=real)
                except FileExistsError:
                    st = os.stat(base, dir_fd=real, follow_symlinks=False)
                    if stat.S_IFMT(st.st_mode) != kind or st.st_rdev != rdev:
                        raise MountError(f"{where}: {dev['path']} exists and is a different file") from None
                os.chown(base, dev.get("uid", 0), dev.get("gid", 0), dir_fd=real, follow_symlinks=False)
                os.chmod(f"/proc/self/fd/{real}/{base}", dev.get("fileMode", 0o666) & 0o7777)
            finally:
                os.close(real)
        finally:
            os.close(parent)

    @staticmethod
    def mask_and_protect(linux: dict) -> None:
        """runc's masked paths (covered by /dev/null or a read-only tmpfs) and read-only paths.

        Each path is opened inside the root without following its last component, and the mount
        goes onto that fd, so a symlink in the image cannot redirect it to the host.
        """
        with Root("/") as root:
            null = root.open_file("dev/null", os.O_PATH | os.O_NOFOLLOW)
            st = os.fstat(null)
            if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)):
                raise MountError("/dev/null is not the null device: refusing to mask paths with it")
            for path, fd in _opened(root, linux.get("maskedPaths")):
                target = f"/proc/self/fd/{fd}"
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    syscalls.mount("tmpfs", target, "tmpfs", syscalls.MS_RDONLY)
                else:
                    syscalls.mount(f"/proc/self/fd/{null}", target, None, syscalls.MS_BIND)
            for path, fd in _opened(root, linux.get("readonlyPaths")):
                target = f"/proc/self/fd/{fd}"
                syscalls.mount(target, target, None, syscalls.MS_BIND | syscalls.MS_REC)
                for _, bound in _opened(root, [path]):
                    syscalls.mount(None, f"/proc/self/fd/{bound}", None, syscalls.MS_BIND | syscalls.MS_REMOUNT
                                   | syscalls.MS_RDONLY | syscalls.MS_REC | syscalls.MS_NOSUID
                                   | syscalls.MS_NODEV | syscalls.MS_NOEXEC)
            os.close(null)


def _opened(root: Root, paths: list[str] | None):
    """(path, O_PATH fd) for each path that exists in the root, the fd closed after each step."""
    for path in paths or []:
        try:
            fd = os.open(clean(path), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root.fd)
        except OSError:
            continue
        try:
            yield path, fd
        finally:
            os.close(fd)
