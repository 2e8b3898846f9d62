"""A container on disk: `<root>/containers/<id>/` holds config.json (what was asked, fixed at
create), state.json (what happened: pids, times, exit code, OOM) and the json-file log.

Why under the store root and not /run: a stopped container must outlive a reboot (docker keeps it
until `rm`), while its processes do not; so liveness is never read from a file alone but checked
against the recorded pid and its start time (`imgtool.runtime.container.Container.alive`), and a
record saying "running" whose processes are gone is reported as exited.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from imgtool import atomicfile
from imgtool.filelock import flock
from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.runtime import container as rt
from imgtool.store import Store, gc

from . import names

EXIT_UNKNOWN = 255  # docker's code for a container whose end nobody saw (monitor and init gone)


@dataclass
class Config:
    """What `run`/`create` asked for; never changes afterwards."""

    id: str
    name: str
    image: str
    image_id: str
    created: float
    args: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    tty: bool = False
    interactive: bool = False
    read_only: bool = False
    network: str = "bridge"
    mounts: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    ports: list[dict[str, Any]] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)
    auto_remove: bool = False
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    log_max_size: int = 10_000_000
    log_max_file: int = 3
    labels: dict[str, str] = field(default_factory=dict)
    restart_policy: str = "no"  # restart.POLICIES
    restart_max: int = 0  # on-failure's maximum retry count (0: unlimited)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    seccomp: str | dict[str, Any] = "default"  # bundle.Overrides.seccomp: the profile itself, as docker keeps it


@dataclass
class State:
    """What happened to it; written by the CLI and the monitor under the record's lock."""

    status: str = "created"  # created | running | restarting (the monitor waits to start it again) | exited | dead
    pid: int = 0
    monitor_pid: int = 0
    monitor_start: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    restart_count: int = 0
    manually_stopped: bool = False  # stop/kill asked: the restart policy no longer applies
    cgroup: dict[str, Any] | None = None
    path: str = ""
    args: list[str] = field(default_factory=list)


def containers_dir(store: Store) -> Path:
    """Where every container's directory lives."""
    return store.path / "containers"


@dataclass
class Record:
    """One container: its directory, config and last saved state."""

    dir: Path
    config: Config
    state: State

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def log_path(self) -> Path:
        return self.dir / f"{self.id}-json.log"

    def live_status(self) -> str:
        """docker's State.Status, with liveness checked: a "running" record whose init is gone is exited,
        once its monitor has had its say (while the monitor lives it is recording the exit or the
        restart, as docker's daemon is between the exit event and the new state: still running)."""
        if self.state.status == "running" and not self.init_alive() and not self.monitor_alive():
            return "exited"
        if self.state.status == "restarting" and not self.monitor_alive():
            return "exited"  # the monitor that was to restart it is gone
        return self.state.status

    def init_alive(self) -> bool:
        """The container's PID 1 is still the process recorded (the runtime's state still exists)."""
        try:
            return rt.Container.load(self.id).alive()
        except (NotFoundError, ValueError, KeyError, TypeError, OSError):
            return False

    def monitor_alive(self) -> bool:
        """The monitor recorded for this container still runs (a stale pid from an old boot does not)."""
        pid = self.state.monitor_pid
        return pid > 0 and start_time(pid) == self.state.monitor_start

    def active(self) -> bool:
        """Running, or between two runs of its restart policy (docker counts both as running)."""
        return self.live_status() in ("running", "restarting")

    def exit_code(self) -> int:
        """The recorded code, or 255 when the record still claims a run nobody saw end."""
        if self.state.status == "running" and self.live_status() == "exited":
            return EXIT_UNKNOWN
        return self.state.exit_code

    def persist(self) -> None:
        """fsync the config and its directory entries, so the container survives a host crash.

        Called by the monitor once the container runs, not at create: nobody waits for it there,
        while at create it sat on the path of every `run`; a `--rm` container skips it (its record
        goes with it), and a crash before it leaves at worst a torn record, loaded as `dead` and
        removable like any other.
        """
        fd = os.open(self.dir / "config.json", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        atomicfile.fsync_dir(self.dir)
        atomicfile.fsync_dir(self.dir.parent)

    @contextmanager
    def locked(self) -> Iterator["Record"]:
        """Hold the record's lock, reloading the state, and save it on the way out."""
        with flock(self.dir / "lock", mode=0o600):
            self.state = _load_state(self.dir)
            yield self
            _write_json(self.dir / "state.json", asdict(self.state))


def _write_json(path: Path, doc: dict) -> None:
    """Atomically, without fsync: state is rewritten on every change and rechecked against the
    processes anyway; config.json is made durable by `Record.persist`."""
    atomicfile.write_bytes(path, json.dumps(doc).encode(), durable=False)


def _load_state(d: Path) -> State:
    try:
        return State(**json.loads((d / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return State(status="dead", error="state.json is missing or unreadable")


def create(store: Store, config: Config) -> Record:
    """Write a new container's directory (the name was checked free under `names_lock`)."""
    d = containers_dir(store) / config.id
    d.mkdir(parents=True, mode=0o700)
    _write_json(d / "config.json", asdict(config))
    _write_json(d / "state.json", asdict(State()))
    return Record(d, config, State())


def load_dir(d: Path) -> Record:
    """The record in directory `d`; a missing or torn config yields a `dead` record still removable."""
    try:
        config = Config(**json.loads((d / "config.json").read_text()))
    except (OSError, ValueError, TypeError):
        config = Config(id=d.name, name=d.name[:12], image="", image_id="", created=d.stat().st_mtime)
        return Record(d, config, State(status="dead", error="config.json is missing or unreadable"))
    return Record(d, config, _load_state(d))


def all_records(store: Store) -> list[Record]:
    """Every container directory, newest first (ps order)."""
    root = containers_dir(store)
    if not root.is_dir():
        return []
    recs = [load_dir(d) for d in root.iterdir() if d.is_dir() and names.is_id(d.name)]
    return sorted(recs, key=lambda r: r.config.created, reverse=True)


def find(store: Store, ref: str) -> Record:
    """The container `ref` names (full ID, name, unique ID prefix), or docker's error."""
    recs = {r.id: r for r in all_records(store)}
    cid = names.resolve(ref, {cid: r.config.name for cid, r in recs.items()})
    return recs[cid]


@contextmanager
def names_lock(store: Store) -> Iterator[None]:
    """Serialise name checks and creation, so two `run --name x` cannot both win."""
    root = containers_dir(store)
    root.mkdir(parents=True, exist_ok=True)
    with flock(root / ".lock", mode=0o600):
        yield


def start_time(pid: int) -> str:
    """A process's start time in clock ticks since boot ("" if gone): with the pid, its identity."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return "" if fields[0] == "Z" else fields[19]
    except (OSError, IndexError):
        return ""


def now() -> float:
    """Wall-clock time for Created/StartedAt/FinishedAt."""
    return time.time()


def users_of(store: Store, image_id: str) -> list[str]:
    """IDs of the containers (any state) made from image `image_id`: `rmi` must not orphan them."""
    return [r.id for r in all_records(store) if r.config.image_id == image_id]


def _gc_roots(store: Store) -> list:
    """The images of every container, running or stopped: docker keeps them until `rm`."""
    out = []
    for rec in all_records(store):
        try:
            out.append(store.find(rec.config.image_id).descriptor)
        except ImgtoolError:  # untagged since (rmi): still the container's until it is removed
            found = gc.manifest_of(store, rec.config.image_id) if rec.config.image_id else None
            out.extend([found] if found else [])
    return out


def _gc_usage(store: Store) -> gc.Usage:
    """docker system df's Containers row: writable layers and records, reclaimable when stopped."""
    recs = all_records(store)
    sizes = {r.id: gc.tree_size(store.snapshots_dir / "containers" / r.id) + gc.tree_size(r.dir) for r in recs}
    running = {r.id for r in recs if r.live_status() == "running"}
    return gc.Usage("Containers", len(recs), len(running), sum(sizes.values()),
                    sum(n for i, n in sizes.items() if i not in running))


gc.register(gc.Owner("Containers", usage=_gc_usage, roots=_gc_roots))
