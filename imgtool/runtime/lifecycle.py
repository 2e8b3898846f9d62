"""The orchestrator surface over bundles: create / run / delete as runc takes them.

`create` returns once the init waits on its exec FIFO (the caller's stdio is the container's, as
with runc's detached mode); `start`, `state` and `kill` are methods of `Container`.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from imgtool.atomicfile import write_bytes

from .container import Container, ExitStatus, RuntimeError_, confirm_exec, spawn, wait
from .init import Plan
from .container import STATE_ROOT
from .tty import Streams


def _load_bundle(bundle: Path) -> tuple[dict, str]:
    bundle = bundle.resolve()
    try:
        spec = json.loads((bundle / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError_(f"cannot read {bundle}/config.json: {exc}") from None
    root = (spec.get("root") or {}).get("path") or "rootfs"
    rootfs = root if os.path.isabs(root) else str(bundle / root)
    if not os.path.isdir(rootfs):
        raise RuntimeError_(f"rootfs {rootfs} is not a directory")
    return spec, rootfs


def _write_pid(pid_file: Path | None, pid: int) -> None:
    if pid_file is not None:
        write_bytes(pid_file, str(pid).encode(), durable=False)


def _connect(console_socket: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(console_socket))
    except OSError as exc:
        sock.close()
        raise RuntimeError_(f"cannot connect to console socket {console_socket}: {exc.strerror}") from None
    return sock


def create(container_id: str, bundle: Path, pid_file: Path | None = None,
           console_socket: Path | None = None) -> Container:
    """runtime.md `create`: set everything up, leave the user process waiting for `start`.

    With process.terminal the pty master is sent over `console_socket` before this returns
    (runc's protocol); runc's rule holds: a terminal needs the socket and the socket a terminal.
    """
    spec, rootfs = _load_bundle(bundle)
    terminal = bool((spec.get("process") or {}).get("terminal"))
    if terminal != (console_socket is not None):
        raise RuntimeError_("process.terminal needs --console-socket (and --console-socket needs process.terminal)")
    plan = Plan(rootfs=rootfs, exec_fifo=str(STATE_ROOT / container_id / "exec.fifo"))
    sock = _connect(console_socket) if console_socket is not None else None
    try:
        plan.console_socket = sock.fileno() if sock is not None else None
        container = spawn(container_id, spec, plan, bundle=str(bundle.resolve()))
    finally:
        if sock is not None:
            sock.close()
    container.report.close()  # type: ignore[attr-defined]
    _write_pid(pid_file, container.pid)
    return container


def run(container_id: str, bundle: Path, pid_file: Path | None = None) -> ExitStatus:
    """runc run: create + start in the foreground, wait, then delete; returns the exit status.

    With process.terminal our stdin is forwarded into the pty and its output to our stdout (runc).
    """
    spec, rootfs = _load_bundle(bundle)
    streams = Streams()
    try:
        plan = Plan(rootfs=rootfs, pdeathsig=True, console_socket=streams.setup(spec))
        container = spawn(container_id, spec, plan, bundle=str(bundle.resolve()), stdio=streams.child)
        try:
            streams.started()
            _write_pid(pid_file, container.pid)
            confirm_exec(container)
            return wait(container, streams.relay)
        finally:
            container.destroy()
    finally:
        streams.close()


def delete(container_id: str, force: bool = False) -> None:
    """runtime.md `delete`: only a stopped container unless forced; always idempotent cleanup."""
    container = Container.load(container_id)
    if container.status() != "stopped" and not force:
        raise RuntimeError_(f"container {container_id} is {container.status()}: stop it or use --force")
    container.destroy()
