"""docker exec: the container's own process settings (env, user, caps) with the caller's overrides,
run by `imgtool.runtime.exec.exec_in` inside its namespaces and cgroup."""

from __future__ import annotations

import os

from imgtool.runtime import container as rt
from imgtool.runtime import users
from imgtool.runtime.exec import exec_in
from imgtool.runtime.runner import image_layers
from imgtool.runtime.tty import Streams
from imgtool.store import Store

from .lifecycle import StateError
from .monitor import spec_for
from .record import Record


def run(store: Store, rec: Record, argv: list[str], env: list[str], user: str | None, workdir: str | None,
        tty: bool, interactive: bool) -> int:
    """Run argv in the running container; its exit code (126/127 raised as docker does)."""
    if rec.live_status() != "running":
        raise StateError(f"container {rec.id} is not running")
    ctr = rt.Container.load(rec.id)
    image_config, _ = image_layers(store, rec.config.image_id)
    spec, ov = spec_for(store, rec, image_config)
    process = spec["process"]
    wanted = user if user is not None else (rec.config.user or image_config.config.user or "0")
    found = users.lookup(f"/proc/{ctr.pid}/root", wanted)
    process["user"] = {"uid": found.uid, "gid": found.gid, "additionalGids": list(found.additional_gids)}
    base = [e for e in process["env"] if not e.startswith("HOME=")] + [f"HOME={found.home}"]
    process["env"] = base + [e if "=" in e else f"{e}={os.environ.get(e, '')}" for e in env]
    process["args"] = argv
    process["terminal"] = tty
    if workdir:
        process["cwd"] = workdir
    stdin_fd = 0 if interactive else os.open(os.devnull, os.O_RDONLY)
    return exec_in(ctr, process, Streams((stdin_fd, 1, 2), interpose=True)).code
