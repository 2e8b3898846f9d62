"""A foreground container over an image's layers, for the runtime tests: snapshots + overlay
rootfs + imgtool's init + cgroup, exactly the pieces `imgtool run`'s monitor (containers/monitor.py)
and build steps (runtime/step.py) compose, without their records, logs or networks, so each test
checks one runtime property (limits, masks, hostile paths) on its own.

With `keep_upper` the container's overlay upper dir is handed back, whose whiteouts and files are
exactly its diff (`imgtool.layer.overlay.changes_from_upper`); the caller `release()`s it.
"""

from __future__ import annotations

import secrets
import shutil

from imgtool.layer.layer import Layer
from imgtool.oci.config import ImageConfig
from imgtool.runtime.bundle import Overrides, runtime_config, user_spec
from imgtool.runtime.container import confirm_exec, spawn, wait
from imgtool.runtime.init import Plan
from imgtool.runtime.snapshots import Snapshots
from imgtool.runtime.step import StepResult
from imgtool.runtime.tty import Streams
from imgtool.store import Store


def image_layers(store: Store, ref: str) -> tuple[ImageConfig, list[Layer]]:
    """An image in the store as a config plus its layers, base first."""
    image = store.resolve(ref)
    return image.config, list(image.layers)


def run_layers(store: Store, config: ImageConfig, layers: list[Layer], ov: Overrides,
               keep_upper: bool = False, name: str | None = None, streams: Streams | None = None) -> StepResult:
    """Run a container over these layers in the foreground; cleans everything up unless `keep_upper`.

    `streams` connects the container's stdio (default: this process's 0, 1, 2 as they are).
    """
    streams = streams or Streams()
    snaps = Snapshots(store.snapshots_dir, store.tmp_dir)
    container_id = secrets.token_hex(16)
    with store.writing():  # a prune waits until the container's lease names the snapshots it mounts
        lowers = snaps.prepare(layers)
        upper, work = snaps.container_dirs(container_id, lowers)
    base = upper.parent
    mountpoint = base / "rootfs"
    mountpoint.mkdir()
    if not lowers:  # an image without layers: an empty lower so overlay still mounts
        (base / "empty").mkdir()
        lowers = [base / "empty"]
    spec = runtime_config(config, None, ov)
    plan = Plan(rootfs=str(mountpoint), lowers=[str(p) for p in lowers], upper=str(upper), work=str(work),
                pdeathsig=True, user=user_spec(config, ov))
    try:
        plan.console_socket = streams.setup(spec)
        container = spawn(container_id, spec, plan, upper_root=None if keep_upper else str(base),
                          stdio=streams.child, name=name)
        try:
            streams.started()
            confirm_exec(container)
            status = wait(container, streams.relay)
        finally:
            container.remove_stubs()
            container.destroy()
    finally:
        streams.close()
    if keep_upper:
        shutil.rmtree(work, ignore_errors=True)
        return StepResult(status, upper, base)
    return StepResult(status, None)

