"""The orchestrator surface over bundles: create / run / delete as runc takes them.

`create` returns once the init waits on its exec FIFO (the caller's stdio is the container's, as
with runc's detached mode); `start`, `state` and `kill` are methods of `Container`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from . import jsonfast, state
from .container import Container, ExitStatus, RuntimeError_, confirm_exec, spawn, wait
from .init import Plan


def _load_bundle(bundle: str | os.PathLike) -> tuple[str, dict, str]:
    bundle = os.path.abspath(bundle)
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            spec = jsonfast.loads(f.read())
    except (OSError, ValueError) as exc:
        raise RuntimeError_(f"cannot read {bundle}/config.json: {exc}", 1) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("process"), dict) or not spec["process"].get("args"):
        raise RuntimeError_(f"{bundle}/config.json: process.args must be set", 1)
    root = (spec.get("root") or {}).get("path") or "rootfs"
    rootfs = root if os.path.isabs(root) else os.path.join(bundle, root)
    if not os.path.isdir(rootfs):
        raise RuntimeError_(f"rootfs {rootfs} is not a directory", 1)
    return bundle, spec, rootfs


def _connect(console_socket: str | os.PathLike):
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.fspath(console_socket))
    except OSError as exc:
        sock.close()
        raise RuntimeError_(f"cannot connect to console socket {console_socket}: {exc.strerror}", 1) from None
    return sock


def create(container_id: str, bundle: str | os.PathLike, pid_file: str | os.PathLike | None = None,
           console_socket: str | os.PathLike | None = None, systemd: bool = False,
           preserve_fds: int = 0) -> Container:
    """runtime.md `create`: set everything up, leave the user process waiting for `start`.

    With process.terminal the pty master is sent over `console_socket` before this returns
    (runc's protocol); runc's rules hold: a terminal needs the socket and the socket a terminal.
    fds 3 .. 3+preserve_fds-1 are passed to the container (runc's --preserve-fds).
    """
    bundle, spec, rootfs = _load_bundle(bundle)
    terminal = bool(spec["process"].get("terminal"))
    if terminal and console_socket is None:
        raise RuntimeError_("cannot allocate tty if runc will detach without setting console socket "
                            "(process.terminal needs --console-socket)", 1)
    if console_socket is not None and not terminal:
        raise RuntimeError_("cannot use console socket if runc will not detach or allocate tty "
                            "(--console-socket needs process.terminal)", 1)
    plan = Plan(rootfs=rootfs, exec_fifo=f"{state.STATE_ROOT}/{container_id}/exec.fifo", preserve_fds=preserve_fds)
    sock = _connect(console_socket) if console_socket is not None else None
    try:
        plan.console_socket = sock.fileno() if sock is not None else None
        container = spawn(container_id, spec, plan, bundle=bundle, systemd=systemd)
    finally:
        if sock is not None:
            sock.close()
    container.report.close()  # type: ignore[attr-defined]
    if pid_file is not None:
        state.write_pid_file(os.fspath(pid_file), container.pid)
    return container


def poststart(container: Container, spec: dict, warn: Callable[[str], None] | None = None) -> None:
    """The poststart hooks, once the user process runs. A failing one stops the container and
    destroys it (poststop hooks included), then fails the operation: runtime-spec "Lifecycle"
    step 9 (the spec's older "log a warning" wording is gone; runc >= 1.2 also fails)."""
    if not (spec.get("hooks") or {}).get("poststart"):
        return
    from . import hooks

    try:
        hooks.run(spec, "poststart", container.state())
    except hooks.HookError as exc:
        container.delete(force=True, warn=warn)
        raise RuntimeError_(str(exc), 1) from None


def run(container_id: str, bundle: str | os.PathLike, pid_file: str | os.PathLike | None = None,
        systemd: bool = False, preserve_fds: int = 0, keep: bool = False,
        warn: Callable[[str], None] | None = None) -> ExitStatus:
    """runc run: create + start in the foreground, wait, then delete; returns the exit status.

    With process.terminal our stdin is forwarded into the pty and its output to our stdout (runc).
    `keep` (runc's --keep) leaves the stopped container, its state and cgroup, for `delete`.
    The poststart and poststop hooks run as they do for create + start + delete (`warn` gets a
    failing poststop hook's message).
    """
    from .tty import Streams

    bundle, spec, rootfs = _load_bundle(bundle)
    streams = Streams(clear_onlcr=True)
    try:
        plan = Plan(rootfs=rootfs, pdeathsig=True, console_socket=streams.setup(spec), preserve_fds=preserve_fds)
        plan.raw_newlines = streams.raw_newlines()
        container = spawn(container_id, spec, plan, bundle=bundle, stdio=streams.child, systemd=systemd)
        try:
            streams.started()
            if pid_file is not None:
                state.write_pid_file(os.fspath(pid_file), container.pid)
            try:
                confirm_exec(container)
            except RuntimeError_ as exc:  # execve (or a startContainer hook) failed after setup:
                os.write(2, f"{exc}\n".encode())  # runc's init prints it on the container's stderr
                return ExitStatus(exc.exit_code)  # and `run` exits with the init's status
            poststart(container, spec, warn)
            return wait(container, streams.relay)
        finally:
            if not keep:
                container.delete(force=True, warn=warn)
    finally:
        streams.close()


def delete(container_id: str, force: bool = False, warn: Callable[[str], None] | None = None) -> None:
    """runtime.md `delete` (see `Container.delete`)."""
    Container.load(container_id).delete(force, warn)
