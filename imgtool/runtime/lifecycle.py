"""The orchestrator surface over bundles: create / run / delete as runc takes them.

`create` returns once the init waits on its exec FIFO (the caller's stdio is the container's, as
with runc's detached mode); `start`, `state` and `kill` are methods of `Container`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .container import Container, ExitStatus, RuntimeError_, confirm_exec, spawn, wait
from .init import Plan
from .container import STATE_ROOT


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
        tmp = pid_file.with_name(pid_file.name + ".tmp")
        tmp.write_text(str(pid))
        os.replace(tmp, pid_file)


def create(container_id: str, bundle: Path, pid_file: Path | None = None) -> Container:
    """runtime.md `create`: set everything up, leave the user process waiting for `start`."""
    spec, rootfs = _load_bundle(bundle)
    plan = Plan(rootfs=rootfs, exec_fifo=str(STATE_ROOT / container_id / "exec.fifo"))
    container = spawn(container_id, spec, plan, bundle=str(bundle.resolve()))
    container.report.close()  # type: ignore[attr-defined]
    _write_pid(pid_file, container.pid)
    return container


def run(container_id: str, bundle: Path, pid_file: Path | None = None) -> ExitStatus:
    """runc run: create + start in the foreground, wait, then delete; returns the exit status."""
    spec, rootfs = _load_bundle(bundle)
    container = spawn(container_id, spec, Plan(rootfs=rootfs, pdeathsig=True), bundle=str(bundle.resolve()))
    try:
        _write_pid(pid_file, container.pid)
        confirm_exec(container)
        return wait(container)
    finally:
        container.destroy()


def delete(container_id: str, force: bool = False) -> None:
    """runtime.md `delete`: only a stopped container unless forced; always idempotent cleanup."""
    container = Container.load(container_id)
    if container.status() != "stopped" and not force:
        raise RuntimeError_(f"container {container_id} is {container.status()}: stop it or use --force")
    container.destroy()
