"""Run another process in a running container (runc exec, docker exec): its cgroup, its namespaces.

How: a forked child joins the container's cgroup (host paths, so first), then each namespace of
the container's init that differs from ours (ipc, uts, net, pid, mount: mount last, which also
moves its root to the container's root); a pid namespace only applies to children, so it forks
once more and the grandchild applies the process (user, capabilities, no_new_privs, rlimits, cwd)
exactly as the init does, then execs. The child exits with the grandchild's status, so the caller
waits for an ordinary child. Failures before exec come back on a pipe as one line.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import termios
from typing import Any

from . import syscalls, tty
from .container import Container, ExitStatus, RuntimeError_
from .init import EXIT_NOEXEC, EXIT_NOTFOUND, EXIT_SETUP, Plan, SetupError, _close_fds, _lookpath, _Setup
from .resolve import Root
from .tty import Streams

_ORDER = (("ipc", syscalls.CLONE_NEWIPC), ("uts", syscalls.CLONE_NEWUTS), ("net", syscalls.CLONE_NEWNET),
          ("pid", syscalls.CLONE_NEWPID), ("mnt", syscalls.CLONE_NEWNS))


def _namespaces(pid: int) -> list[tuple[int, int]]:
    """(fd, type) of the init's namespaces that are not already ours, opened before any setns."""
    out = []
    for name, flag in _ORDER:
        if os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            out.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))
    return out


def _console(process: dict[str, Any], sock: int) -> None:
    """-t: a pty from the container's own devpts becomes stdio and controlling terminal; the master
    goes to the caller over `sock` (the init's console protocol, without touching /dev/console)."""
    with Root("/") as root:
        master, slave = tty.open_pty(root)
    size = process.get("consoleSize") or {}
    if size.get("height") and size.get("width"):
        tty.set_size(slave, size["height"], size["width"])
    os.fchown(slave, (process.get("user") or {}).get("uid", 0), -1)
    os.setsid()
    for i in range(3):
        os.dup2(slave, i)
    os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    tty.send_master(sock, master)
    os.close(master)


def _grandchild(process: dict[str, Any], console: int | None, report: int) -> None:
    setup = _Setup({"process": process}, Plan(rootfs="/"), report)
    code, execing = EXIT_SETUP, False
    try:
        if console is not None:
            _console(process, console)
        setup.process()
        setup.chdir()
        exe = _lookpath(process["args"][0], process.get("env") or [])
        _close_fds(set())
        execing = True
        os.execve(exe, process["args"], dict(e.partition("=")[::2] for e in process.get("env") or []))
    except SetupError as exc:
        code = exc.code
        setup.send("error", str(exc))
    except OSError as exc:
        if execing:
            code = EXIT_NOTFOUND if exc.errno == errno.ENOENT else EXIT_NOEXEC
        setup.send("error", f"exec {process['args'][0]}: {exc.strerror}" if execing else f"exec setup: {exc}")
    except BaseException as exc:  # never unwind into the caller's code in a forked child
        setup.send("error", f"exec setup: {type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def _child(container: Container, nsfds: list[tuple[int, int]], process: dict[str, Any], stdio: tuple[int, int, int],
           console: int | None, report: int) -> None:
    code = EXIT_SETUP
    try:
        for i, fd in enumerate(stdio):
            os.dup2(fd, i)
        container.cgroup.add(os.getpid())
        for fd, flag in nsfds:
            syscalls.setns(fd, flag)
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            _grandchild(process, console, report)
        os.close(report)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
    except BaseException as exc:
        try:
            os.write(report, (json.dumps({"error": f"exec: cannot enter the container: {exc}"}) + "\n").encode())
        except BaseException:
            pass
    finally:
        os._exit(code)


def exec_in(container: Container, process: dict[str, Any], streams: Streams | None = None) -> ExitStatus:
    """Run `process` (runtime-spec process object) in the running `container`; its exit status.

    With process.terminal, `streams` gets the pty master and relays it (as for `run -t`).
    """
    if container.status() != "running":
        raise RuntimeError_(f"container {container.id} is not running")
    streams = streams or Streams()
    nsfds = _namespaces(container.pid)
    rep_r, rep_w = os.pipe()
    try:
        console = streams.setup({"process": process})
        pid = os.fork()
        if pid == 0:
            os.close(rep_r)
            _child(container, nsfds, process, streams.child, console, rep_w)
        os.close(rep_w)
        streams.started()
        with os.fdopen(rep_r, "rb") as report:
            errors = [json.loads(line)["error"] for line in report if b'"error"' in line]
            if not errors:
                streams.relay(pid)
        _, status = os.waitpid(pid, 0)
    finally:
        for fd, _ in nsfds:
            os.close(fd)
        streams.close()
    code = os.waitstatus_to_exitcode(status)
    if errors:
        raise RuntimeError_(errors[0], code if code in (EXIT_NOEXEC, EXIT_NOTFOUND) else EXIT_NOEXEC)
    return ExitStatus(code)
