"""The container's filesystem: spec mounts, /dev, linux.devices, masked and read-only paths.

Every mount target is opened in-root first and mounted through /proc/self/fd/N, so a symlink
swapped in by the image or a racing process cannot redirect a mount to the host (CVE-2021-30465,
R6); a mount is re-resolved after it is made before it is remounted or given a propagation, because
the old fd still names the covered directory, not the new mount. /dev/null is checked to be the
real 1:3 device before it masks anything (CVE-2025-31133, R5).

In a user namespace the container's root may not be able to reach a bind source at all (a 0700
host directory), so the sources are cloned with the host's privileges before the init enters it
(`open_bind_sources`, runc's mount fds) and attached with move_mount; device nodes cannot be made
there (mknod needs CAP_MKNOD in the host's namespace), so the host's nodes are bind-mounted, as
runc does, after checking each is the device it claims to be. Remounts keep the flags the kernel
locked on mounts inherited from the host (nosuid, nodev, ...), else it refuses them with EPERM.
"""

from __future__ import annotations

import os
import stat

from . import syscalls
from .cgroups import V1_CONTROLLERS
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


def standard_mounts() -> list[dict]:
    """/dev, its pts, shm and mqueue, and a read-only /sys, as runc's spec template has them.

    Why one list: `imgtool-runc spec` writes runc's template and an image's bundle starts from the
    same mounts, so a change (a size, a mode) reaches both. Fresh dicts on each call: callers extend
    and serialise them.
    """
    return [
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"))
_DEVICE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _kcore_link() -> tuple[tuple[str, str], ...]:
    """/dev/core only where the host has /proc/kcore (a kernel without CONFIG_PROC_KCORE, or a
    sandbox hiding it, has none): runc's setupDevSymlinks checks the same, so a RUN that lists /dev
    sees what it sees under docker (tests/builder/differential edge-run-env)."""
    return (("core", "/proc/kcore"),) if os.path.exists("/proc/kcore") else ()


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
        self.sources: dict[int, int] = {}  # mounts[i] -> detached copy of its bind source (user namespace)

    def open_bind_sources(self) -> None:
        """Clone every bind source now (still privileged on the host), for the user-namespaced init."""
        for i, m in enumerate(self.spec.get("mounts") or []):
            flags, _, _ = parse_options(m.get("options") or [])
            if flags & syscalls.MS_BIND or m.get("type") == "bind":
                try:
                    self.sources[i] = syscalls.open_tree_clone(m.get("source") or "", bool(flags & syscalls.MS_REC))
                except OSError as exc:
                    raise MountError(f"mount {m.get('destination')}: source {m.get('source')}: {exc.strerror}") from None

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
                remount(f"/proc/self/fd/{fd}", flags)
            if propagation:
                syscalls.mount(None, f"/proc/self/fd/{fd}", None, propagation)
        finally:
            os.close(fd)

    def mount_one(self, root: Root, m: dict, tree: int | None = None) -> None:
        """One entry of `mounts`, onto its in-root destination (`tree`: its cloned bind source)."""
        mtype, source = m.get("type") or "", m.get("source") or ""
        flags, propagation, data = parse_options(m.get("options") or [])
        is_bind = bool(flags & syscalls.MS_BIND) or mtype == "bind"
        if is_bind and data:
            raise MountError(f"mount {m['destination']}: bind mount with filesystem options {data!r}")
        want_dir = not is_bind or (stat.S_ISDIR(os.fstat(tree).st_mode) if tree is not None else os.path.isdir(source))
        made = len(self.stubs)
        fd = self.target(root, m["destination"], want_dir)
        try:
            st, rst = os.fstat(fd), os.fstat(root.fd)
            if mtype == "tmpfs" and not is_bind and len(self.stubs) == made:
                # runc: a tmpfs over an existing directory starts with that directory's mode (a
                # mode= option, later in the data, still wins), so /tmp keeps its 1777
                data = f"mode={stat.S_IMODE(st.st_mode):04o}" + ("," + data if data else "")
            if (st.st_dev, st.st_ino) == (rst.st_dev, rst.st_ino):
                raise MountError(f"mount destination {m['destination']} resolves to the container's root")
            path = f"/proc/self/fd/{fd}"
            if tree is not None:
                syscalls.move_mount(tree, fd)
                flags &= ~(syscalls.MS_BIND | syscalls.MS_REC)
            elif is_bind:
                syscalls.mount(source, path, None, syscalls.MS_BIND | (flags & syscalls.MS_REC))
                flags &= ~(syscalls.MS_BIND | syscalls.MS_REC)
            elif mtype == "cgroup":
                if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                    syscalls.mount("cgroup2", path, "cgroup2", flags)
                elif tree is None and not any(ns.get("type") == "user" for ns in self._namespaces()):
                    syscalls.mount("tmpfs", path, "tmpfs", flags & ~syscalls.MS_RDONLY, "mode=755")
                    self._cgroup_v1_hierarchies(root, m["destination"], flags)
                else:  # a user namespace: no host hierarchy to bind (runc's rootless layout is not made)
                    syscalls.mount("tmpfs", path, "tmpfs", flags | syscalls.MS_RDONLY, "mode=755")
                flags = 0
            else:
                syscalls.mount(source or mtype, path, mtype, flags, data or None)
                flags = 0
        finally:
            os.close(fd)
        if flags or propagation:
            self._on_new_mount(root, m["destination"], want_dir, flags, propagation)

    def _namespaces(self) -> list:
        return (self.spec.get("linux") or {}).get("namespaces") or []

    def _cgroup_v1_hierarchies(self, root: Root, dest: str, flags: int) -> None:
        """runc's v1 layout under the cgroup mount's tmpfs: one directory per host hierarchy the
        container has a cgroup in (`cpu`, `memory`, `pids`, ...) showing that cgroup, so what runs inside reads its
        limits at the usual paths and may make sub-cgroups (when the mount is not `ro`). With a
        cgroup namespace each is a fresh cgroup mount (its root is the namespace's, this cgroup);
        without, the host's directory of this cgroup is bind-mounted. Co-mounted controllers get
        symlinks (`cpu` -> `cpu,cpuacct`). Last, the tmpfs is made read-only if asked."""
        cgroupns = any(ns.get("type") == "cgroup" for ns in self._namespaces())
        own = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if ctrls:
                    own[ctrls] = path
        hierarchies = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, (fstype, _src, opts) = left.split(), right.split()[:3]
                if fstype != "cgroup":
                    continue
                ctrls = ",".join(o for o in opts.split(",") if o not in ("rw", "ro") and
                                 (o.startswith("name=") or o in {c for k in own for c in k.split(",")}))
                key = next((k for k in own if set(k.split(",")) == set(ctrls.split(","))), None)
                # only hierarchies the container has a cgroup of its own in (cgroups.create makes
                # one per controller and in name=systemd): in any other it sits at the host's root
                if key is not None and (set(key.split(",")) & set(V1_CONTROLLERS) or key == "name=systemd"):
                    hierarchies.append((fields[4], fields[3], key))
        tmpfs = self.target(root, dest, True)
        try:
            for mountpoint, mount_root, key in hierarchies:
                name = os.path.basename(mountpoint)
                os.mkdir(name, 0o755, dir_fd=tmpfs)
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=tmpfs)
                try:
                    target = f"/proc/self/fd/{fd}"
                    if cgroupns:
                        data = key if not key.startswith("name=") else "none," + key
                        syscalls.mount("cgroup", target, "cgroup", flags, data)
                    else:
                        rel = os.path.relpath(own[key], mount_root) if mount_root != "/" else own[key].lstrip("/")
                        syscalls.mount(os.path.join(mountpoint, rel), target, None, syscalls.MS_BIND)
                        if flags:
                            os.close(fd)  # reopened: the old fd is the directory under the new mount
                            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=tmpfs)
                            remount(f"/proc/self/fd/{fd}", flags)
                finally:
                    os.close(fd)
                if "," in name:
                    for ctrl in name.split(","):
                        try:
                            os.symlink(name, ctrl, dir_fd=tmpfs)
                        except FileExistsError:
                            pass
            if flags & syscalls.MS_RDONLY:
                remount(f"/proc/self/fd/{tmpfs}", flags)
        finally:
            os.close(tmpfs)

    def mount_all(self, root: Root) -> None:
        """Every spec mount in order, then /dev's nodes when /dev is a fresh tmpfs, then linux.devices."""
        mounts = self.spec.get("mounts") or []
        for i, m in enumerate(mounts):
            try:
                self.mount_one(root, m, self.sources.get(i))
            except OSError as exc:
                raise MountError(f"mount {m.get('type')} on {m.get('destination')}: {exc.strerror}") from None
            finally:
                if i in self.sources:
                    os.close(self.sources.pop(i))
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
                except PermissionError:  # a user namespace: the host's node
                    _bind_host_node(real, name, f"/dev/{name}", stat.S_IFCHR, os.makedev(major, minor))
            for name, target in _DEV_LINKS + _kcore_link():
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
                except PermissionError:  # a user namespace: the host's node, which owns its own mode
                    _bind_host_node(real, base, dev["path"], kind, rdev)
                    return
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


_LOCKABLE = ((os.ST_RDONLY, syscalls.MS_RDONLY), (os.ST_NOSUID, syscalls.MS_NOSUID), (os.ST_NODEV, syscalls.MS_NODEV),
             (os.ST_NOEXEC, syscalls.MS_NOEXEC), (os.ST_NOATIME, syscalls.MS_NOATIME),
             (os.ST_NODIRATIME, syscalls.MS_NODIRATIME), (os.ST_RELATIME, syscalls.MS_RELATIME))


def remount(target: str, flags: int) -> None:
    """MS_BIND|MS_REMOUNT with `flags`; on EPERM again with the mount's lockable flags kept (runc's
    "remount with locked flags re-applied"): a user namespace may add flags, never clear the host's."""
    try:
        syscalls.mount(None, target, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | flags)
    except PermissionError:
        have = os.statvfs(target).f_flag
        kept = 0
        for st_flag, ms_flag in _LOCKABLE:
            if have & st_flag:
                kept |= ms_flag
        if flags & (syscalls.MS_NOATIME | syscalls.MS_RELATIME | syscalls.MS_STRICTATIME):
            kept &= ~(syscalls.MS_NOATIME | syscalls.MS_RELATIME)  # asked for explicitly: the kernel judges it
        syscalls.mount(None, target, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | flags | kept)


def _bind_host_node(dir_fd: int, name: str, host_path: str, kind: int, rdev: int) -> None:
    """Bind the host's device node onto a new empty file `name` (below `dir_fd`), only if it is the
    device asked for: a config cannot bind an arbitrary host file in under a device's name."""
    st = os.stat(host_path)
    if stat.S_IFMT(st.st_mode) != kind or (kind != stat.S_IFIFO and st.st_rdev != rdev):
        raise MountError(f"device {host_path}: the host's node is not the device asked for")
    try:
        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o000, dir_fd=dir_fd))
    except FileExistsError:
        pass
    target = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(target).st_mode):
            raise MountError(f"device {host_path}: the container's {name} is not a plain file")
        syscalls.mount(host_path, f"/proc/self/fd/{target}", None, syscalls.MS_BIND)
    finally:
        os.close(target)


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
