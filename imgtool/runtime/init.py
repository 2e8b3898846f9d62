"""The container init: runs in the forked child, sets up the rootfs and execs the container process.

Order (runc's): private propagation, rootfs mount, spec mounts, /dev, pivot_root, masked and
read-only paths, read-only root, hostname, rlimits, user + capabilities, no_new_privs, cwd, exec.
Every mount target is opened in-root first and mounted through /proc/self/fd/N, so a symlink swapped
in by the image or a racing process cannot redirect a mount to the host (CVE-2021-30465, R6);
/dev/null is checked to be the real 1:3 device before it masks anything (CVE-2025-31133, R5).
Nothing here returns: the child execs or `os._exit`s, reporting failures on the report pipe.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import stat
import termios
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import capabilities, syscalls, tty, users
from .resolve import Root, clean
from .snapshots import mount_overlay

_FLAGS = {
    "ro": (syscalls.MS_RDONLY, True), "rw": (syscalls.MS_RDONLY, False),
    "nosuid": (syscalls.MS_NOSUID, True), "suid": (syscalls.MS_NOSUID, False),
    "nodev": (syscalls.MS_NODEV, True), "dev": (syscalls.MS_NODEV, False),
    "noexec": (syscalls.MS_NOEXEC, True), "exec": (syscalls.MS_NOEXEC, False),
    "strictatime": (syscalls.MS_STRICTATIME, True), "relatime": (syscalls.MS_RELATIME, True),
    "noatime": (syscalls.MS_NOATIME, True), "bind": (syscalls.MS_BIND, True),
    "rbind": (syscalls.MS_BIND | syscalls.MS_REC, True),
    "private": (0, True), "rprivate": (0, True), "slave": (0, True), "rslave": (0, True),
}
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))
EXIT_SETUP = 125
EXIT_NOEXEC = 126
EXIT_NOTFOUND = 127


@dataclass
class Plan:
    """Where the rootfs comes from: a bundle directory, or overlay layers plus a writable upper."""

    rootfs: str  # the mount point (overlay) or the bundle rootfs directory
    lowers: list[str] | None = None
    upper: str | None = None
    work: str | None = None
    exec_fifo: str | None = None  # create/start split: block on this FIFO before exec
    pdeathsig: bool = False
    user: str | None = None  # resolve this USER in the mounted rootfs (overlay rootfs only)
    console_socket: int | None = None  # process.terminal: send the pty master over this unix socket


class SetupError(Exception):
    """A failure before exec, carrying the exit code docker would use."""

    def __init__(self, message: str, code: int = EXIT_SETUP):
        super().__init__(message)
        self.code = code


def _parse_options(options: list[str]) -> tuple[int, str]:
    flags, data = 0, []
    for opt in options:
        if opt in _FLAGS:
            bit, on = _FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        else:
            data.append(opt)
    return flags, ",".join(data)


class _Setup:
    def __init__(self, spec: dict[str, Any], plan: Plan, report: int):
        self.spec, self.plan, self.report = spec, plan, report
        self.stubs: list[str] = []  # mount points created in the rootfs, removed from the upper later

    def send(self, kind: str, payload: Any) -> None:
        os.write(self.report, (json.dumps({kind: payload}) + "\n").encode())

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

    def mount_one(self, root: Root, m: dict[str, Any]) -> None:
        mtype, source = m.get("type") or "", m.get("source") or ""
        flags, data = _parse_options(m.get("options") or [])
        is_bind = bool(flags & syscalls.MS_BIND) or mtype == "bind"
        want_dir = not is_bind or os.path.isdir(source)
        fd = self.target(root, m["destination"], want_dir)
        try:
            st, rst = os.fstat(fd), os.fstat(root.fd)
            if (st.st_dev, st.st_ino) == (rst.st_dev, rst.st_ino):
                raise SetupError(f"mount destination {m['destination']} resolves to the container's root")
            path = f"/proc/self/fd/{fd}"
            if is_bind:
                syscalls.mount(source, path, None, syscalls.MS_BIND | (flags & syscalls.MS_REC))
                remount = flags & ~(syscalls.MS_BIND | syscalls.MS_REC)
                if remount:  # the old fd names the covered inode: reopen to reach the new mount
                    bound = self.target(root, m["destination"], want_dir)
                    try:
                        syscalls.mount(None, f"/proc/self/fd/{bound}", None,
                                       syscalls.MS_BIND | syscalls.MS_REMOUNT | remount)
                    finally:
                        os.close(bound)
            elif mtype == "cgroup":
                if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                    syscalls.mount("cgroup2", path, "cgroup2", flags)
                else:
                    syscalls.mount("tmpfs", path, "tmpfs", flags | syscalls.MS_RDONLY, "mode=755")
            else:
                syscalls.mount(source or mtype, path, mtype, flags, data or None)
        finally:
            os.close(fd)

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

    def rootfs(self) -> None:
        p = self.plan
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        if p.lowers is not None:
            mount_overlay([Path(x) for x in p.lowers], Path(p.upper) if p.upper else None,
                          Path(p.work) if p.work else None, p.rootfs)
        else:
            syscalls.mount(p.rootfs, p.rootfs, None, syscalls.MS_BIND | syscalls.MS_REC)
        if p.user is not None:
            self.resolve_user()
        with Root(p.rootfs) as root:
            for m in self.spec.get("mounts") or []:
                try:
                    self.mount_one(root, m)
                except OSError as exc:
                    raise SetupError(f"mount {m.get('type')} on {m.get('destination')}: {exc.strerror}") from None
            if any(clean(m["destination"]) == "dev" and m.get("type") == "tmpfs" for m in self.spec.get("mounts") or []):
                self.make_dev(root)
        os.chdir(p.rootfs)
        syscalls.pivot_root(".", ".")
        syscalls.umount(".", syscalls.MNT_DETACH)
        os.chdir("/")

    def resolve_user(self) -> None:
        """USER names looked up in the container's own passwd/group (in-root), then HOME if unset."""
        found = users.lookup(self.plan.rootfs, self.plan.user)
        proc = self.spec["process"]
        proc["user"] = {"uid": found.uid, "gid": found.gid, "additionalGids": list(found.additional_gids)}
        if not any(e.startswith("HOME=") for e in proc.get("env") or []):
            proc.setdefault("env", []).append(f"HOME={found.home}")

    def console(self) -> None:
        """runc's `terminal: true`, after pivot_root and while mounts are still allowed.

        A pty from the container's devpts; the slave becomes /dev/console (bind mount), stdio and
        the controlling terminal of this session (setsid was done at start), owned by the process
        user as runc's fixStdioPermissions does; the master goes out over the console socket.
        """
        if self.plan.console_socket is None:
            raise SetupError("process.terminal is set but no console socket was given")
        proc = self.spec["process"]
        with Root("/") as root:
            try:
                master, slave = tty.open_pty(root)
            except OSError as exc:
                raise SetupError(f"cannot allocate a pseudo-terminal: {exc.strerror}") from None
            target = self.target(root, "/dev/console", want_dir=False)
            syscalls.mount(f"/proc/self/fd/{slave}", f"/proc/self/fd/{target}", None, syscalls.MS_BIND)
            os.close(target)
        size = proc.get("consoleSize") or {}
        if size.get("height") and size.get("width"):
            tty.set_size(slave, size["height"], size["width"])
        os.fchown(slave, (proc.get("user") or {}).get("uid", 0), -1)
        for i in range(3):
            os.dup2(slave, i)
        os.close(slave)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        tty.send_master(self.plan.console_socket, master)
        os.close(master)

    def mask_and_protect(self) -> None:
        """runc's masked paths (covered by /dev/null or a read-only tmpfs) and read-only paths.

        Each path is opened inside the root without following its last component, and the mount
        goes onto that fd, so a symlink in the image cannot redirect it to the host.
        """
        linux = self.spec.get("linux") or {}
        with Root("/") as root:
            null = root.open_file("dev/null", os.O_PATH | os.O_NOFOLLOW)
            st = os.fstat(null)
            if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)):
                raise SetupError("/dev/null is not the null device: refusing to mask paths with it")
            for path, fd in _opened(root, linux.get("maskedPaths")):
                target = f"/proc/self/fd/{fd}"
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    syscalls.mount("tmpfs", target, "tmpfs", syscalls.MS_RDONLY)
                else:
                    syscalls.mount(f"/proc/self/fd/{null}", target, None, syscalls.MS_BIND)
            for path, fd in _opened(root, linux.get("readonlyPaths")):
                target = f"/proc/self/fd/{fd}"
                syscalls.mount(target, target, None, syscalls.MS_BIND | syscalls.MS_REC)
                # the old fd still names the covered inode: reopen to reach the new bind mount's root
                for _, bound in _opened(root, [path]):
                    syscalls.mount(None, f"/proc/self/fd/{bound}", None, syscalls.MS_BIND | syscalls.MS_REMOUNT
                                   | syscalls.MS_RDONLY | syscalls.MS_REC | syscalls.MS_NOSUID
                                   | syscalls.MS_NODEV | syscalls.MS_NOEXEC)
            os.close(null)
        if (self.spec.get("root") or {}).get("readonly"):
            syscalls.mount(None, "/", None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY)

    def process(self) -> None:
        proc = self.spec["process"]
        for rl in proc.get("rlimits") or []:
            kind = getattr(resource, rl["type"])
            _, hard_now = resource.getrlimit(kind)
            hard = rl["hard"] if hard_now == resource.RLIM_INFINITY else min(rl["hard"], hard_now)
            resource.setrlimit(kind, (min(rl["soft"], hard), hard))
        if "oomScoreAdj" in proc:
            Path("/proc/self/oom_score_adj").write_text(str(proc["oomScoreAdj"]))
        user = proc.get("user") or {}
        caps = proc.get("capabilities") or {}
        capabilities.drop_bounding(capabilities.mask(caps.get("bounding")))
        os.setgroups(list(user.get("additionalGids") or []))
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
        gid, uid = user.get("gid", 0), user.get("uid", 0)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
        capabilities.apply(caps)
        if proc.get("noNewPrivileges"):
            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        if "umask" in user:
            os.umask(user["umask"])

    def chdir(self) -> None:
        cwd = self.spec["process"].get("cwd") or "/"
        try:
            os.makedirs(cwd, exist_ok=True)
            os.chdir(cwd)
        except OSError as exc:
            raise SetupError(f"cannot change to working directory {cwd}: {exc.strerror}") from None
        here = os.getcwd()
        if not here.startswith("/") or "(unreachable)" in here:  # runc's verifyCwd (CVE-2024-21626)
            raise SetupError(f"working directory {cwd} is outside the container")


def _lookpath(name: str, env: list[str]) -> str:
    if "/" in name:
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
    for d in path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SetupError(f"exec: {name!r}: executable file not found in $PATH", EXIT_NOTFOUND)


def _close_fds(keep: set[int]) -> None:
    """Mark every fd but stdio and `keep` close-on-exec (CVE-2024-21626: no host fd may leak)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def run_init(spec: dict[str, Any], plan: Plan, go: int, report: int, namespaces: int = 0) -> None:
    """Entry point in the child: wait for the parent's go-ahead (cgroup joined), enter the
    `namespaces` (CLONE_NEW* flags; after joining the cgroup, so a cgroup namespace is rooted at the
    container's cgroup, as runc does), set up, exec. Never returns."""
    setup = _Setup(spec, plan, report)
    code = EXIT_SETUP
    execing = False
    try:
        syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)  # R3: nothing in the container may open our /proc
        if plan.pdeathsig:
            syscalls.prctl(syscalls.PR_SET_PDEATHSIG, 9)
        if os.read(go, 1) != b"1":
            os._exit(EXIT_SETUP)
        os.close(go)
        if namespaces:
            syscalls.unshare(namespaces)
        os.setsid()
        fifo = os.open(plan.exec_fifo, os.O_PATH | os.O_CLOEXEC) if plan.exec_fifo else -1
        setup.rootfs()
        if spec["process"].get("terminal"):
            setup.console()
        setup.mask_and_protect()
        if spec.get("hostname") and any(n.get("type") == "uts" for n in spec["linux"].get("namespaces", [])):
            syscalls.sethostname(spec["hostname"])
        proc = spec["process"]
        setup.process()
        setup.chdir()
        argv = proc["args"]
        exe = _lookpath(argv[0], proc.get("env") or [])
        setup.send("stubs", setup.stubs)
        _close_fds({report})
        if fifo >= 0:
            setup.send("ready", os.getpid())
            wfd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)  # blocks until `start`
            os.write(wfd, b"0")
            os.close(wfd)
        else:
            setup.send("ready", os.getpid())
        execing = True
        os.execve(exe, argv, dict(e.partition("=")[::2] for e in proc.get("env") or []))
    except (SetupError, users.UserError) as exc:
        code = getattr(exc, "code", EXIT_SETUP)
        setup.send("error", str(exc))
    except OSError as exc:
        if execing:
            code = EXIT_NOTFOUND if exc.errno == errno.ENOENT else EXIT_NOEXEC
        setup.send("error", f"exec {spec['process']['args'][0]}: {exc.strerror}" if execing else f"container init: {exc}")
    except BaseException as exc:  # a forked child must never unwind into the parent's code
        try:
            setup.send("error", f"container init: {type(exc).__name__}: {exc}")
        except BaseException:
            pass
    finally:
        os._exit(code)


def _opened(root: Root, paths: list[str] | None) -> Iterator[tuple[str, int]]:
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
