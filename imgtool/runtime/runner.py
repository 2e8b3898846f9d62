"""Running an image: snapshots + overlay rootfs + imgtool's init, for `imgtool run` and the builder.

`run_layers` is the builder's entry point for a Dockerfile RUN step: it takes the layers and config of
the image being built (which need not be named in the store), runs the command, and hands back the
container's overlay upper dir, whose whiteouts (0/0 char devices, opaque xattr) and files are exactly
the step's diff (`imgtool.layer.overlay.changes_from_upper`). The caller `release()`s it afterwards.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from imgtool.layer.layer import Layer
from imgtool.oci.config import ImageConfig
from imgtool.store import Store

from .bundle import Overrides, runtime_config, user_spec
from .container import ExitStatus, confirm_exec, spawn, wait
from .init import Plan
from .snapshots import Snapshots
from .tty import Streams


@dataclass
class StepResult:
    """A finished container: how it exited, and its writable layer if it was kept."""

    status: ExitStatus
    upper: Path | None
    _base: Path | None = None

    def release(self) -> None:
        """Delete the kept writable layer (idempotent)."""
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
            self.upper = None


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
    lowers = snaps.prepare(layers)
    container_id = secrets.token_hex(16)
    upper, work = snaps.container_dirs(container_id)
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


def run_image(store: Store, ref: str, ov: Overrides, name: str | None = None,
              streams: Streams | None = None) -> ExitStatus:
    """`imgtool run`: the image's layers as snapshots, a fresh writable layer, removed afterwards."""
    config, layers = image_layers(store, ref)
    return run_layers(store, config, layers, ov, name=name, streams=streams).status
