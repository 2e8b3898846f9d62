"""The container init: runs in the forked child, sets up the rootfs and execs the container process.

Order (runc's): rlimits, namespaces, [createRuntime hooks in the parent], private propagation, rootfs
mount, spec mounts, /dev, createContainer hooks, pivot_root, console, sysctl, masked and read-only
paths, read-only root, hostname, HOME, user + capabilities, no_new_privs, cwd, seccomp, [wait for
start], startContainer hooks, exec. Nothing here returns: the child execs or `os._exit`s,
reporting failures on the report pipe. The process steps (process.py) are shared with `exec`,
which runs a further process in a running container.
"""

from __future__ import annotations

import errno
import os

from imgtool.errors import ImgtoolError

from . import jsonfast, syscalls
from .mounts import PROPAGATION, Filesystem, MountError, remount
from .process import (EXIT_NOEXEC, EXIT_NOTFOUND, EXIT_SETUP, SetupError, chdir, close_fds,
                      compile_seccomp, exec_process, go_strerror, lookpath, prepare_process, set_rlimits)
from .resolve import Root

class Plan:
    """Where the rootfs comes from (a bundle directory, or overlay layers plus a writable upper) and
    how the init behaves. A plain class: `create` must not pay for importing dataclasses."""

    def __init__(self, rootfs: str, lowers: list[str] | None = None, upper: str | None = None,
                 work: str | None = None, exec_fifo: str | None = None, pdeathsig: bool = False,
                 user: str | None = None, console_socket: int | None = None, hook_sync: bool = False,
                 state: dict | None = None, preserve_fds: int = 0, raw_newlines: bool = False,
                 docker_groups: bool = False):
        self.rootfs = rootfs  # the mount point (overlay) or the bundle rootfs directory
        self.lowers, self.upper, self.work = lowers, upper, work
        self.exec_fifo = exec_fifo  # create/start split: block on this FIFO before exec
        self.pdeathsig = pdeathsig
        self.user = user  # resolve this USER in the mounted rootfs (overlay rootfs only)
        self.console_socket = console_socket  # process.terminal: send the pty master over this unix socket
        self.hook_sync = hook_sync  # stop after entering the namespaces until the parent ran createRuntime hooks
        self.state = state or {}  # the runtime-spec state given to in-container hooks
        self.preserve_fds = preserve_fds  # fds 3 .. 3+n-1 stay open in the container (runc's --preserve-fds)
        self.raw_newlines = raw_newlines  # the pty keeps "\n" (tty.Streams.raw_newlines)
        self.docker_groups = docker_groups  # the primary gid among the supplementary ones (docker run)


def _hooks(spec: dict, kind: str, state: dict, default_env: list[str] | None = None) -> None:
    if (spec.get("hooks") or {}).get(kind):
        from . import hooks  # imported before pivot_root by run_init: the host's sys.path is gone after

        try:
            hooks.run(spec, kind, state, default_env)
        except hooks.HookError as exc:
            raise SetupError(str(exc)) from None


class _Setup:
    def __init__(self, spec: dict, plan: Plan, report: int):
        self.spec, self.plan, self.report = spec, plan, report
        self.fs = Filesystem(spec)

    def send(self, kind: str, payload: object) -> None:
        os.write(self.report, (jsonfast.dumps({kind: payload}) + "\n").encode())

    def fail(self, msg: str) -> None:
        """Report a failure to the runtime; once it has gone (`create` returned, then `start`),
        print it on the container's stderr, as runc's init does, instead of losing it."""
        try:
            self.send("error", msg)
        except OSError:
            os.write(2, (msg + "\n").encode())

    def rootfs(self) -> None:
        p = self.plan
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        if p.lowers is not None:
            from pathlib import Path

            from .snapshots import mount_overlay  # imgtool run's overlay rootfs (imports the store)

            mount_overlay([Path(x) for x in p.lowers], Path(p.upper) if p.upper else None,
                          Path(p.work) if p.work else None, p.rootfs)
        else:
            syscalls.mount(p.rootfs, p.rootfs, None, syscalls.MS_BIND | syscalls.MS_REC)
        if p.user is not None:
            self.resolve_user()
        with Root(p.rootfs) as root:
            try:
                self.fs.mount_all(root)
            except MountError as exc:
                raise SetupError(str(exc)) from None
        _hooks(self.spec, "createContainer", dict(p.state, status="created", pid=os.getpid()))
        os.chdir(p.rootfs)
        syscalls.pivot_root(".", ".")
        syscalls.umount(".", syscalls.MNT_DETACH)
        os.chdir("/")
        propagation = (self.spec.get("linux") or {}).get("rootfsPropagation")
        if propagation:
            if propagation not in PROPAGATION:
                raise SetupError(f"linux.rootfsPropagation={propagation} is not supported")
            syscalls.mount(None, "/", None, PROPAGATION[propagation])

    def resolve_user(self) -> None:
        """USER names looked up in the container's own passwd/group (in-root), then HOME if unset."""
        from . import users

        found = users.lookup(self.plan.rootfs, self.plan.user)
        proc = self.spec["process"]
        groups = users.docker_groups(found) if self.plan.docker_groups else found.additional_gids
        proc["user"] = {"uid": found.uid, "gid": found.gid, "additionalGids": list(groups)}
        if not any(e.startswith("HOME=") for e in proc.get("env") or []):
            proc.setdefault("env", []).append(f"HOME={found.home}")

    def kernel_settings(self) -> None:
        """linux.sysctl (before /proc/sys goes read-only), hostname and domainname."""
        linux = self.spec.get("linux") or {}
        for key, value in (linux.get("sysctl") or {}).items():
            rel = key.replace(".", "/")
            if ".." in rel.split("/"):
                raise SetupError(f"linux.sysctl: invalid key {key!r}")
            try:
                with open(f"/proc/sys/{rel}", "w") as f:
                    f.write(str(value))
            except OSError as exc:
                raise SetupError(f"linux.sysctl: cannot set {key}: {exc.strerror}") from None
        Filesystem.mask_and_protect(linux)
        if (self.spec.get("root") or {}).get("readonly"):
            remount("/", syscalls.MS_RDONLY)
        uts = "uts" in [n.get("type") for n in linux.get("namespaces") or []]
        for key, setter in (("hostname", syscalls.sethostname), ("domainname", syscalls.setdomainname)):
            if self.spec.get(key):
                if not uts:
                    raise SetupError(f"unable to set {key} without a private UTS namespace")
                setter(self.spec[key])


def console(proc: dict, console_socket: int | None, bind_console: bool, raw_newlines: bool = False) -> None:
    """runc's `terminal: true`, after pivot_root (or setns for exec) while mounts are allowed.

    A pty from the container's devpts; the slave becomes /dev/console (`bind_console`: the init),
    stdio and the controlling terminal of this session, owned by the process user as runc's
    fixStdioPermissions does; the master goes out over the console socket.
    """
    import fcntl
    import termios

    from . import tty  # imported before pivot_root/setns by `preload`

    if console_socket is None:
        raise SetupError("process.terminal is set but no console socket was given")
    with Root("/") as root:
        try:
            master, slave = tty.open_pty(root)
        except OSError as exc:
            raise SetupError(f"cannot allocate a pseudo-terminal: {exc.strerror}") from None
        if bind_console:
            fs = Filesystem({})
            target = fs.target(root, "/dev/console", want_dir=False)
            syscalls.mount(f"/proc/self/fd/{slave}", f"/proc/self/fd/{target}", None, syscalls.MS_BIND)
            os.close(target)
    size = proc.get("consoleSize") or {}
    if size.get("height") and size.get("width"):
        tty.set_size(slave, size["height"], size["width"])
    if raw_newlines:  # runc's ClearONLCR (tty.Streams.raw_newlines)
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    os.fchown(slave, (proc.get("user") or {}).get("uid", 0), -1)
    for i in range(3):
        os.dup2(slave, i)
    os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    tty.send_master(console_socket, master)
    os.close(master)


def preload(proc: dict, hooks: bool) -> None:
    """Import what runs after pivot_root (or setns into the container's mounts), when the host's
    sys.path is gone: the pty code for a terminal, subprocess for in-container hooks."""
    if proc.get("terminal"):
        import fcntl  # noqa: F401
        import termios  # noqa: F401

        from . import tty  # noqa: F401
    if hooks:
        import subprocess  # noqa: F401

        from . import hooks as _hooks  # noqa: F401


def close_inherited(keep: set[int], preserve: int = 0) -> None:
    """Close every fd the caller left open but stdio, `keep` and the preserved ones, right after
    fork: the created init waits for `start` for as long as the caller likes, and must not hold the
    caller's files meanwhile (runc's create.bats counts them)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep and not 3 <= fd < 3 + preserve:
            try:
                os.close(fd)
            except OSError:
                pass


def run_init(spec: dict, plan: Plan, go: int, report: int, namespaces) -> None:
    """Entry point in the child: wait for the parent's go-ahead (cgroup joined), enter the
    namespaces (after joining the cgroup, so a cgroup namespace is rooted at the container's cgroup,
    as runc does), set up, exec. Never returns."""
    setup = _Setup(spec, plan, report)
    code = EXIT_SETUP
    execing = False
    try:
        syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)  # R3: nothing in the container may open our /proc
        if plan.pdeathsig:
            syscalls.prctl(syscalls.PR_SET_PDEATHSIG, 9)
        if os.read(go, 1) != b"1":
            os._exit(EXIT_SETUP)
        preload(spec["process"], bool(spec.get("hooks")))
        flt = compile_seccomp((spec.get("linux") or {}).get("seccomp"))
        fifo = os.open(plan.exec_fifo, os.O_PATH | os.O_CLOEXEC) if plan.exec_fifo else -1  # before any userns
        set_rlimits(spec["process"])
        if namespaces.has_user:
            from . import userns

            try:
                userns.enter(setup.fs, setup.send, namespaces, go, plan.pdeathsig)
            except MountError as exc:
                raise SetupError(str(exc)) from None
            except OSError as exc:
                raise SetupError(f"cannot enter the user namespace: {exc.strerror}") from None
        else:
            namespaces.enter()
        namespaces.close()
        if plan.hook_sync:
            setup.send("namespaces", os.getpid())
            if os.read(go, 1) != b"2":
                os._exit(EXIT_SETUP)
        os.close(go)
        os.setsid()
        setup.rootfs()
        proc = spec["process"]
        if proc.get("terminal"):
            console(proc, plan.console_socket, bind_console=True, raw_newlines=plan.raw_newlines)
        setup.kernel_settings()
        entered = chdir(proc.get("cwd") or "/", retry_later=True)
        flt = prepare_process(proc, flt)
        if not entered:
            chdir(proc.get("cwd") or "/")
        exe = lookpath(proc["args"][0], proc.get("env") or [])
        setup.send("stubs", setup.fs.stubs)
        close_fds({report}, plan.preserve_fds)
        if flt is not None:  # runc loads it before `start` too: startContainer hooks run under it
            flt.load()
            flt = None
        setup.send("ready", os.getpid())
        if fifo >= 0:
            wfd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)  # blocks until `start`
            os.write(wfd, b"0")
            os.close(wfd)
        _hooks(spec, "startContainer", dict(plan.state, status="created", pid=os.getpid()), proc.get("env"))
        execing = True
        exec_process(exe, proc, flt)
    except (SetupError, ImgtoolError) as exc:  # ImgtoolError: users.UserError
        code = getattr(exc, "code", EXIT_SETUP)
        setup.fail(str(exc))
    except OSError as exc:
        if execing:
            code = EXIT_NOTFOUND if exc.errno == errno.ENOENT else EXIT_NOEXEC
        setup.fail(f"exec {spec['process']['args'][0]}: {go_strerror(exc)}" if execing else f"container init: {exc}")
    except BaseException as exc:  # a forked child must never unwind into the parent's code
        try:
            setup.send("error", f"container init: {type(exc).__name__}: {exc}")
        except BaseException:
            pass
    finally:
        os._exit(code)
