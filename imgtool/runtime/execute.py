"""`exec`: start another process inside a running container (runc exec, as the shim and conmon use it).

How: the parent joins the container's PID namespace for its next child only (setns around fork,
`syscalls.fork_in_pid_namespace`), forks, moves the child into the container's cgroup, and lets it
go; the child joins the other namespaces by /proc/<init>/ns/* (mount last: root and cwd become the
container's), optionally takes a pty from the container's devpts and sends the master over
--console-socket, applies the process (user, capabilities, rlimits, no_new_privs, the container's
seccomp profile) and execs. The report pipe is close-on-exec: EOF means the exec happened, a line
means it failed. With --detach the parent writes the pid file and exits 0, leaving the process to
the caller's subreaper (shim or conmon) to reap; otherwise it waits and returns the status.
"""

from __future__ import annotations

import os

from imgtool.errors import ImgtoolError

from . import jsonfast, namespaces, syscalls
from .cgroupfs import CgroupError
from .init import close_inherited, console, preload
from .process import (SetupError, chdir, close_fds, compile_seccomp, exec_process, go_strerror, lookpath,
                      prepare_process, set_rlimits)
from .state import Container, write_pid_file


class ExecError(ImgtoolError):
    """exec failed; runc exits 255 for these (`exec failed: ...`)."""

    runc_code = 255


def process_from_flags(container: Container, opts: dict, argv: list[str]) -> dict:
    """The process for `exec ID CMD...` without --process: the container's own process, changed by
    --cwd, --env, --user UID[:GID], --additional-gids, --tty, --cap, --no-new-privs, --apparmor."""
    proc = dict(container.saved_spec().get("process") or {})
    proc["args"] = list(argv)
    proc["terminal"] = bool(opts.get("tty"))
    env = {e.partition("=")[0]: e for e in proc.get("env") or []}
    for e in opts.get("env") or []:
        env[e.partition("=")[0]] = e
    proc["env"] = list(env.values())
    if opts.get("cwd"):
        proc["cwd"] = opts["cwd"]
    user = dict(proc.get("user") or {})
    if opts.get("user"):
        uid, _, gid = opts["user"].partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise ExecError(f"--user {opts['user']!r}: only numeric UID[:GID] is supported, as runc")
        user["uid"] = int(uid)
        user["gid"] = int(gid) if gid else user.get("gid", 0)
    if opts.get("additional-gids"):
        user["additionalGids"] = [int(g) for g in opts["additional-gids"]]
    proc["user"] = user
    if opts.get("cap"):
        caps = {k: list(v) for k, v in (proc.get("capabilities") or {}).items()}
        for kind in ("bounding", "effective", "permitted", "ambient"):
            caps.setdefault(kind, []).extend(c for c in opts["cap"] if c not in caps[kind])
        proc["capabilities"] = caps
    if opts.get("no-new-privs"):
        proc["noNewPrivileges"] = True
    if opts.get("apparmor"):
        proc["apparmorProfile"] = opts["apparmor"]
    return proc


def _check_terminal(terminal: bool, detach: bool, console_socket: str | None) -> None:
    """runc's checkTerminal rules, with its wording."""
    if detach and terminal and not console_socket:
        raise ExecError("cannot allocate tty if runc will detach without setting console socket")
    if console_socket and (not detach or not terminal):
        raise ExecError("cannot use console socket if runc will not detach or allocate tty")


def _child(container: Container, proc: dict, ns, go: int, report: int, console_fd: int | None,
           preserve_fds: int, seccomp_profile: dict | None, raw_newlines: bool = False) -> None:
    """In the forked child: join, set up, exec. Never returns."""
    code = 255
    try:
        syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)  # R3: the container must not reach our memory
        if os.read(go, 1) != b"1":
            os._exit(code)
        os.close(go)
        preload(proc, False)
        flt = compile_seccomp(seccomp_profile)
        set_rlimits(proc)
        ns.enter()
        ns.close()
        if proc.get("terminal"):
            os.setsid()
            console(proc, console_fd, bind_console=False, raw_newlines=raw_newlines)
        entered = chdir(proc.get("cwd") or "/", retry_later=True)
        flt = prepare_process(proc, flt)
        if not entered:
            chdir(proc.get("cwd") or "/")
        exe = lookpath(proc["args"][0], proc.get("env") or [])
        close_fds({report}, preserve_fds)
        exec_process(exe, proc, flt)
    except SetupError as exc:
        os.write(report, (jsonfast.dumps({"error": str(exc), "code": exc.code}) + "\n").encode())
    except OSError as exc:
        os.write(report, (jsonfast.dumps({"error": f"exec {proc['args'][0]}: {go_strerror(exc)}", "code": 126}) + "\n").encode())
    except BaseException as exc:  # a forked child must never unwind into the parent's code
        try:
            os.write(report, (jsonfast.dumps({"error": f"{type(exc).__name__}: {exc}", "code": 255}) + "\n").encode())
        except BaseException:
            pass
    finally:
        os._exit(code)


def exec_in(container: Container, proc: dict, pid_file: str | None = None, detach: bool = False,
            console_socket: str | None = None, preserve_fds: int = 0, ignore_paused: bool = False,
            clear_onlcr: bool = False, sub_cgroups: dict[str, str] | None = None) -> int:
    """Run `proc` (a runtime-spec process) in the container; 0 once running with `detach`, else its
    exit status (128+signal when killed). `sub_cgroups`: runc's --cgroup (`Cgroup.add`)."""
    status = container.status()
    if status == "stopped":
        raise ExecError("cannot exec in a stopped container")
    if status == "paused" and not ignore_paused:
        raise ExecError("cannot exec in a paused container")
    if not proc.get("args"):
        raise ExecError("process.args must not be empty")
    terminal = bool(proc.get("terminal"))
    _check_terminal(terminal, detach, console_socket)
    streams = None
    sock = None
    if terminal and not detach:
        from .tty import Streams

        streams = Streams(clear_onlcr=clear_onlcr)  # runc: True; docker exec -t keeps "\r\n"
        console_fd = streams.setup({"process": proc})
    elif console_socket:
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(console_socket)
        except OSError as exc:
            sock.close()
            raise ExecError(f"cannot connect to console socket {console_socket}: {exc.strerror}") from None
        console_fd = sock.fileno()
    else:
        console_fd = None
    try:
        ns = namespaces.of_process(container.pid, container.namespaces)
    except namespaces.NamespaceError as exc:
        raise ExecError(str(exc)) from None
    spec = container.saved_spec()
    seccomp_profile = (spec.get("linux") or {}).get("seccomp")
    go_r, go_w = os.pipe()
    rep_r, rep_w = os.pipe()
    try:
        pid = syscalls.fork_in_pid_namespace(ns.pid_fd) if ns.pid_fd is not None else os.fork()
        if pid == 0:
            os.close(go_w)
            os.close(rep_r)
            keep = {go_r, rep_w, *(fd for _, fd in ns.joins)} | ({console_fd} if console_fd is not None else set())
            close_inherited(keep, preserve_fds)
            _child(container, proc, ns, go_r, rep_w, console_fd, preserve_fds, seccomp_profile,
                   streams is not None and streams.raw_newlines())
        os.close(go_r)
        os.close(rep_w)
        ns.close()
        try:
            try:
                container.cgroup.add(pid, sub_cgroups)
            except CgroupError as exc:  # the child sees no go byte and exits
                raise ExecError(str(exc)) from None
            os.write(go_w, b"1")
        finally:
            os.close(go_w)
        with os.fdopen(rep_r, "rb") as report:
            failure = report.read()
        if failure:
            _, wstatus = os.waitpid(pid, 0)
            raise ExecError(f"exec failed: {jsonfast.loads(failure.splitlines()[0])['error']}")
        if sock is not None:
            sock.close()
            sock = None
        if pid_file:
            try:
                write_pid_file(pid_file, pid)
            except ImgtoolError:
                _kill(pid, 9)  # runc: a process nobody can find is not left running
                os.waitpid(pid, 0)
                raise
        if detach:
            return 0
        if streams is not None:
            streams.started()
        return _wait(pid, streams)
    finally:
        ns.close()
        if sock is not None:
            sock.close()
        if streams is not None:
            streams.close()


def _wait(pid: int, streams) -> int:
    """Foreground exec: forward our signals to the process, relay its pty, return its status."""
    import signal

    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
    previous = {s: signal.signal(s, lambda n, _f: _kill(pid, n)) for s in forwarded}
    try:
        if streams is not None:
            streams.relay(pid)
        _, wstatus = os.waitpid(pid, 0)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    code = os.waitstatus_to_exitcode(wstatus)
    return 128 - code if code < 0 else code


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
