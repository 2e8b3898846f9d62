"""docker's container verbs over the records on disk: create, start, stop, kill, wait, rm, restart.

No daemon holds the state: each verb reads the record, checks the processes it names (pid + start
time), acts, and lets the monitor record the exit. When the monitor is gone (killed, or an old
boot's), the verb finishes its work itself (`reap`): kill what is left in the cgroup, release the
network and record the exit, so every container on disk can always be stopped and removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import replace

from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.runtime import container as rt
from imgtool.runtime import state as rstate
from imgtool.runtime.cgroups import Cgroup
from imgtool.runtime.signals import parse_signal
from imgtool.store import Image, Store

from . import monitor, names, network, record, volumes
from .record import Config, Record

_POLL = 0.02


class StateError(ImgtoolError):
    """A verb that does not apply in the container's current state (docker's 409 Conflict)."""


def create(store: Store, config: Config) -> Record:
    """Reserve the name and write the record plus an empty writable layer (docker create)."""
    with record.names_lock(store):
        taken = {r.config.name: r.id for r in record.all_records(store)}
        name = config.name or names.generate_name(set(taken))
        if name in taken:
            raise names.ConflictError(
                f'Conflict. The container name "/{name}" is already in use by container "{taken[name]}". '
                "You have to remove (or rename) that container to be able to reuse that name.")
        config = replace(config, name=name)
        rec = record.create(store, config)
    base = monitor.rootfs_dirs(store, config.id)
    for sub in ("upper", "work", "rootfs"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return rec


def start(store: Store, rec: Record, image: Image | None = None) -> int:
    """Start a created or exited container detached; returns the init's pid (`image`: already loaded).

    A start is the user's: the restart policy applies again (docker resets ExitOnNext).
    """
    status = rec.live_status()
    if status in ("running", "restarting"):
        return rec.state.pid
    if status == "exited" and rec.state.status in ("running", "restarting"):
        reap(rec)  # a run nobody saw end: release its leftovers first
    with rec.locked() as r:
        r.state.manually_stopped = False
    return monitor.start_detached(store, rec, image)


def _wait_until(cond, timeout: float | None) -> bool:
    deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
    while not cond():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _runtime(rec: Record) -> rt.Container | None:
    try:
        return rt.Container.load(rec.id)
    except (NotFoundError, ValueError, KeyError, TypeError, OSError):
        return None


def _settled(rec: Record) -> bool:
    """The init is gone and the monitor (if any) has written the exit."""
    fresh = record.load_dir(rec.dir)
    return not fresh.init_alive() and (fresh.state.status != "running" or not fresh.monitor_alive())


def _await_exit(rec: Record, code: int) -> None:
    """After the init is gone: the monitor records the exit; without one, record it here as `code`."""
    _wait_until(lambda: _settled(rec), 10)
    fresh = record.load_dir(rec.dir)
    if fresh.state.status == "running":
        reap(fresh, code)


def _cancel_restarts(rec: Record) -> None:
    """Mark the container manually stopped: its monitor restarts it no more (moby's ExitOnNext)."""
    with rec.locked() as r:
        r.state.manually_stopped = True


def _not_restarting(rec: Record) -> bool:
    """Wait for a monitor between two runs to notice a stop (it looks every 50 ms)."""
    return _wait_until(lambda: record.load_dir(rec.dir).live_status() != "restarting", 10)


def stop(rec: Record, timeout: int | None = None, sig: str | None = None) -> None:
    """docker stop: the stop signal, `timeout` seconds (the container's, default 10), then SIGKILL.

    The restart policy is cancelled first; a run its monitor was starting meanwhile is stopped too.
    """
    _cancel_restarts(rec)
    first = parse_signal(sig or rec.config.stop_signal)
    timeout = rec.config.stop_timeout if timeout is None else timeout
    while True:
        status = record.load_dir(rec.dir).live_status()
        if status == "running":
            _stop_running(rec, first, timeout)
            if record.load_dir(rec.dir).live_status() == "running":
                break  # it survived SIGKILL (a process stuck in the kernel): nothing more to do here
        elif status != "restarting" or not _not_restarting(rec):
            break
    _await_exit(rec, record.EXIT_UNKNOWN)


def _stop_running(rec: Record, first: int, timeout: int) -> None:
    ctr = _runtime(rec)
    sent = first
    if ctr is not None:
        _signal(ctr, first)
        if not _wait_until(lambda: not rec.init_alive(), timeout):
            sent = signal.SIGKILL
            ctr.cgroup.kill()
            _wait_until(lambda: not rec.init_alive(), 10)
    _await_exit(rec, 128 + sent)


def _signal(ctr: rt.Container, sig: int) -> None:
    try:
        ctr.kill(sig)
    except rt.RuntimeError_:
        pass  # it ended meanwhile


def kill(rec: Record, sig: str = "KILL") -> None:
    """docker kill: deliver a signal; SIGKILL waits for the exit to be recorded. SIGKILL and the stop
    signal cancel the restart policy; a container between two runs only gets that."""
    status = rec.live_status()
    if status not in ("running", "restarting"):
        raise StateError(f"cannot kill container: {rec.id}: container {rec.id} is not running")
    num = parse_signal(sig)
    if num in (signal.SIGKILL, parse_signal(rec.config.stop_signal)):
        _cancel_restarts(rec)
    ctr = _runtime(rec) if status == "running" else None
    if ctr is None:
        return
    if num == signal.SIGKILL:
        ctr.cgroup.kill()
        _wait_until(lambda: not rec.init_alive(), 10)
        _await_exit(rec, 128 + num)
    else:
        _signal(ctr, num)


def wait(rec: Record) -> int:
    """docker wait: block until the container is not running (nor restarting); its exit code."""
    _wait_until(lambda: not record.load_dir(rec.dir).active() and _settled(rec), None)
    return record.load_dir(rec.dir).exit_code()


def release(rec: Record) -> None:
    """Kill anything left and free the cgroup, runtime state and network (idempotent)."""
    ctr = _runtime(rec)
    if ctr is not None:
        ctr.destroy()
    elif rec.state.cgroup:
        try:
            Cgroup.from_dict(rec.state.cgroup).destroy()
        except (OSError, ImgtoolError, KeyError, TypeError):
            pass
        shutil.rmtree(f"{rstate.STATE_ROOT}/{rec.id}", ignore_errors=True)
    network.teardown(rec.id)


def reap(rec: Record, code: int = record.EXIT_UNKNOWN) -> None:
    """Finish what a dead monitor could not: release everything, record the exit as `code`."""
    release(rec)
    with rec.locked() as r:
        if r.state.status == "running":
            r.state.status, r.state.exit_code, r.state.pid = "exited", code, 0
            r.state.finished_at = record.now()
        elif r.state.status == "restarting":  # its last exit is recorded already
            r.state.status = "exited"


def remove(store: Store, rec: Record, force: bool = False, volumes_too: bool = False) -> None:
    """docker rm: a running (or restarting) container only with `force` (killed first); every
    leftover removed."""
    status = rec.live_status()
    if status in ("running", "restarting"):
        if not force:
            raise StateError(f'cannot remove container "/{rec.config.name}": container is {status}: '
                             "stop the container before removing or force remove")
        _cancel_restarts(rec)
        ctr = _runtime(rec)
        if ctr is not None:
            ctr.cgroup.kill()
        _wait_until(lambda: not rec.init_alive(), 10)
    if rec.monitor_alive():
        _wait_until(lambda: not rec.monitor_alive(), 5)
        if rec.monitor_alive():
            os.kill(rec.state.monitor_pid, signal.SIGKILL)
    release(rec)
    remove_files(store, rec, volumes_too)


def remove_files(store: Store, rec: Record, volumes_too: bool = False) -> None:
    """The writable layer, the record, and (with -v / --rm) anonymous volumes."""
    shutil.rmtree(monitor.rootfs_dirs(store, rec.id), ignore_errors=True)
    shutil.rmtree(rec.dir, ignore_errors=True)
    if volumes_too or rec.config.auto_remove:
        for m in rec.config.mounts:
            if m.get("type") == "volume" and m.get("anonymous"):
                try:
                    volumes.remove(store, m["source"], force=True)
                except ImgtoolError:
                    pass


def prune(store: Store) -> list[str]:
    """docker container prune (and system prune's container part): remove every non-running
    container; the IDs removed."""
    removed = []
    for rec in record.all_records(store):
        if not rec.active():
            remove(store, rec)
            removed.append(rec.id)
    return removed


def restart(store: Store, rec: Record, timeout: int | None = None) -> None:
    """docker restart: stop (same algorithm), then start with the same writable layer."""
    stop(rec, timeout)
    fresh = record.load_dir(rec.dir)
    with fresh.locked() as r:
        r.state.restart_count += 1
    start(store, record.load_dir(rec.dir))
