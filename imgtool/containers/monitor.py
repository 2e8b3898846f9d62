"""The per-container monitor (conmon's role): starts the container, holds its stdio, writes its log,
records how it ended, and cleans up its cgroup and network.

Detached (`run -d`, `start`): the CLI double-forks; the monitor is a session leader of its own,
stdio on /dev/null, so it outlives the CLI and the shell that ran it, and reports "started" (or
the one-line error) on a pipe before the CLI returns. Attached: the CLI itself is the monitor and
relays the container's stdio to its own as well. Without a daemon, the monitor is the only process
that sees the container's exit status (the init is its child); if it is killed, the container keeps
running and `stop`/`rm` finish its work from the state on disk (`lifecycle.reap`).
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Callable

from imgtool.errors import ImgtoolError
from imgtool.runtime import container as rt
from imgtool.runtime import state as rstate
from imgtool.runtime.bundle import Overrides, runtime_config, user_spec
from imgtool.runtime.cgroups import Resources
from imgtool.runtime.init import Plan
from imgtool.runtime.snapshots import Snapshots
from imgtool.runtime.tty import Streams
from imgtool.store import Image, Store

from . import mounts, network, record
from .attach import Hub
from .logs import JsonFileWriter, LogOptions
from .ports import PortMapping
from .record import Record
from .restart import Manager

_STOP_POLL = 0.05  # how often a monitor waiting to restart looks for a stop


def rootfs_dirs(store: Store, container_id: str) -> Path:
    """The container's writable layer (upper, work) and overlay mount point, kept until `rm`."""
    return store.snapshots_dir / "containers" / container_id


def spec_for(store: Store, rec: Record, image_config) -> tuple[dict, Overrides]:
    """The runtime config a start (or an exec's process) uses: the record's flags over the image."""
    cfg = rec.config
    ov = Overrides(args=cfg.args, entrypoint=cfg.entrypoint, env=list(cfg.env), workdir=cfg.workdir, user=cfg.user,
                   hostname=cfg.hostname, terminal=cfg.tty, read_only=cfg.read_only,
                   network="host" if cfg.network == "host" else "none", resources=Resources(**cfg.resources),
                   cgroups_path=f"imgtool/{cfg.id}", cap_add=list(cfg.cap_add), cap_drop=list(cfg.cap_drop),
                   seccomp=cfg.seccomp)
    spec = runtime_config(image_config, None, ov)
    spec["mounts"] += mounts.to_spec(store, cfg.mounts) + _etc_files(rec)
    netns = _netns_to_join(cfg)
    if netns is not None:
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = netns
    return spec, ov


def _netns_to_join(cfg: record.Config) -> str | None:
    """The network namespace the container joins by path: its own (made by `network.begin`) or,
    with --network container:X, X's (held by its netns file); None: the runtime's default."""
    if cfg.network == "bridge":
        return str(network.netns_path(cfg.id))
    if cfg.network.startswith("container:"):
        other = cfg.network.partition(":")[2]
        return str(network.netns_path(other)) if network.netns_path(other).exists() else f"/proc/{_init_pid(other)}/ns/net"
    return None


def _etc_files(rec: Record) -> list[dict]:
    """docker's /etc/hostname, /etc/hosts and /etc/resolv.conf, bind-mounted from the record's dir
    (the resolver is slirp4netns' 10.0.2.3 in a container's own network, else the host's)."""
    cfg = rec.config
    try:
        host_resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        host_resolv = ""
    resolv = "nameserver 10.0.2.3\n" if cfg.network == "bridge" else host_resolv
    files = {"hostname": f"{cfg.hostname}\n", "resolv.conf": resolv,
             "hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                      + (f"{network.ADDRESS}\t{cfg.hostname}\n" if cfg.network == "bridge" else "")}
    out = []
    for name, text in files.items():
        path = rec.dir / name
        path.write_text(text)
        out.append({"destination": f"/etc/{name}", "type": "bind", "source": str(path), "options": ["rbind", "rw"]})
    return out


def _init_pid(container_id: str) -> int:
    try:
        return rt.Container.load(container_id).pid
    except ImgtoolError:
        raise ImgtoolError(f"cannot join network of a non running container: {container_id}") from None


def run(store: Store, rec: Record, streams: Streams, report: int | None, pdeathsig: bool,
        image: Image | None = None, restarts: Manager | None = None) -> rt.ExitStatus | None:
    """Start the container and monitor it to the end; None if it never started (error reported).

    `report` gets one JSON line, {"started": pid} or {"error": ..., "code": ...}, then is closed;
    without it (attached) a start failure is raised. `image`: the record's image if the caller has
    it loaded already (`run` resolved it to check the flags), else it is loaded by ID. `restarts`:
    the detached monitor's restart policy, consulted when the container exits (`finish`).
    """
    cfg = rec.config
    writer = JsonFileWriter(rec.log_path, LogOptions(cfg.log_max_size, cfg.log_max_file))
    streams.tee = writer.write if streams.hub is None else _both(writer, streams.hub)
    container = stack = None
    try:
        try:
            image = image or store.resolve(cfg.image_id)
            image_config, layers = image.config, list(image.layers)
            lowers = Snapshots(store.snapshots_dir, store.tmp_dir).prepare(layers)
            base = rootfs_dirs(store, cfg.id)
            if not lowers:
                (base / "empty").mkdir(exist_ok=True)
                lowers = [base / "empty"]
            if cfg.network == "bridge":
                stack = network.begin(cfg.id)
            spec, ov = spec_for(store, rec, image_config)
            plan = Plan(rootfs=str(base / "rootfs"), lowers=[str(p) for p in lowers], upper=str(base / "upper"),
                        work=str(base / "work"), exec_fifo=f"{rstate.STATE_ROOT}/{cfg.id}/exec.fifo",
                        pdeathsig=pdeathsig, user=user_spec(image_config, ov), docker_groups=True)
            plan.console_socket = streams.setup(spec)
            container = rt.spawn(cfg.id, spec, plan, bundle=str(rec.dir), stdio=streams.child, name=cfg.name)
            streams.started()
            if stack is not None:
                stack.complete([PortMapping(**p) for p in cfg.ports])
            elif cfg.network == "none":
                network.loopback_up(container.pid)
            with rec.locked() as r:
                r.state = record.State(status="running", pid=container.pid, monitor_pid=os.getpid(),
                                       monitor_start=record.start_time(os.getpid()), started_at=record.now(),
                                       restart_count=r.state.restart_count, cgroup=container.cgroup_doc,
                                       manually_stopped=r.state.manually_stopped,
                                       path=spec["process"]["args"][0], args=spec["process"]["args"][1:])
            container.start()
            rt.confirm_exec(container)
        except BaseException as exc:
            _failed(store, rec, container, exc, report)
            if report is None:
                raise
            return None
        if report is not None:
            _send(report, {"started": container.pid})
            report = None
        if not cfg.auto_remove:
            try:
                rec.persist()
            except OSError:
                pass  # the record stays readable; only its crash safety is lost, not the container
        status = rt.wait(container, streams.relay)
    finally:
        if stack is not None:
            stack.close()
        streams.close()
        writer.close()
        if report is not None:
            os.close(report)
    finish(store, rec, status, restarts)
    return status


def _both(writer: JsonFileWriter, hub: Hub):
    """Output goes to the log and to the attached clients."""
    def tee(stream: str, data: bytes) -> None:
        writer.write(stream, data)
        hub.send(stream, data)

    return tee


def _failed(store: Store, rec: Record, container, exc: BaseException, report: int | None) -> None:
    """A start that failed: nothing left running, the record says why (docker keeps it "created")."""
    from . import lifecycle

    if container is not None:
        container.destroy()
    network.teardown(rec.id)
    if isinstance(exc, ImgtoolError):
        message, code = str(exc), exc.exit_code
    else:
        message, code = f"container start failed: {type(exc).__name__}: {exc}", 125
    with rec.locked() as r:
        r.state = record.State(status="created", error=message, exit_code=code, restart_count=r.state.restart_count,
                               manually_stopped=r.state.manually_stopped)
    if report is not None:
        _send(report, {"error": message, "code": code})
    if rec.config.auto_remove:
        lifecycle.remove_files(store, rec)


def _send(fd: int, msg: dict) -> None:
    try:
        os.write(fd, (json.dumps(msg) + "\n").encode())
    finally:
        os.close(fd)


def finish(store: Store, rec: Record, status: rt.ExitStatus, restarts: Manager | None = None) -> None:
    """After the init exited: release cgroup and ports first (a next `run -p` may reuse them), then
    record the exit, or `restarting` if the policy starts it again; `--rm` removes everything."""
    from . import lifecycle

    lifecycle.release(rec)
    with rec.locked() as r:
        if r.state.status == "running":
            r.state.status, r.state.exit_code, r.state.oom_killed = "exited", status.code, status.oom_killed
            r.state.finished_at, r.state.pid = record.now(), 0
            if restarts is not None and restarts.should_restart(status.code, r.state.restart_count,
                                                                r.state.manually_stopped,
                                                                r.state.finished_at - r.state.started_at):
                r.state.status = "restarting"
    if rec.config.auto_remove:
        lifecycle.remove_files(store, rec)


def _restart_loop(store: Store, rec: Record, restarts: Manager, status: rt.ExitStatus | None,
                  hub: Hub | None = None) -> None:
    """The detached monitor after the first run: wait the back-off, start again, while the policy says
    so; a stop meanwhile (manually_stopped) ends it, recording the last exit."""
    while status is not None and record.load_dir(rec.dir).state.status == "restarting":
        deadline = time.monotonic() + restarts.delay
        while time.monotonic() < deadline and not record.load_dir(rec.dir).state.manually_stopped:
            time.sleep(min(_STOP_POLL, max(0.0, deadline - time.monotonic())))
        with rec.locked() as r:
            if r.state.status != "restarting":
                return
            if r.state.manually_stopped:
                r.state.status = "exited"
                return
            r.state.restart_count += 1
        try:
            status = run(store, rec, _detached_streams(hub), None, pdeathsig=False, restarts=restarts)
        except ImgtoolError:
            return  # recorded by `_failed`: the container stays, with the start error
        finally:
            if hub is not None:
                hub.end_run()


def _detached_streams(hub: Hub | None) -> Streams:
    """A detached container's stdio: the log and attached clients get its output, input comes from
    those clients only (the monitor's own 0, 1, 2 are /dev/null: real fds, as -t's pty needs)."""
    streams = Streams(host=(0, 1, 2))
    streams.hub = hub
    return streams


def _fork_monitor(rec: Record, body: Callable[[int], None]) -> int:
    """Run container `rec`'s monitor `body(w)` in a new session of its own (double fork, stdio on /dev/null), so it outlives
    the CLI and the shell that ran it; returns the read end of the pipe `w`, once the middle
    process is gone."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            body(w)
        except BaseException:
            _log_crash(rec)
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    return r


def start_detached(store: Store, rec: Record, image: Image | None = None) -> int:
    """Fork the monitor; returns the container's pid once it runs, or raises the start error (with
    its exit code) the monitor reported."""
    def body(w: int) -> None:
        restarts = Manager(rec.config.restart_policy, rec.config.restart_max)
        hub = Hub(rec)
        try:
            status = run(store, rec, _detached_streams(hub), w, pdeathsig=False, image=image, restarts=restarts)
            hub.end_run()
            _restart_loop(store, rec, restarts, status, hub)
        finally:
            hub.close()

    with os.fdopen(_fork_monitor(rec, body), "rb") as f:
        line = f.readline()
    try:
        msg = json.loads(line)
    except ValueError:
        raise ImgtoolError(f"container {rec.id[:12]}: its monitor exited before starting it") from None
    if "error" in msg:
        err = ImgtoolError(msg["error"])
        err.exit_code = msg.get("code", 125)
        raise err
    return int(msg["started"])


def hand_over(store: Store, rec: Record, restarts: Manager, status: rt.ExitStatus) -> None:
    """An attached run whose policy restarts it: a detached monitor takes the restarts over, so the
    CLI returns the first run's exit code, as docker's does (the container goes on without it)."""
    if rec.config.restart_policy == "no" or record.load_dir(rec.dir).state.status != "restarting":
        return

    def body(w: int) -> None:
        with rec.locked() as r:
            r.state.monitor_pid, r.state.monitor_start = os.getpid(), record.start_time(os.getpid())
        os.close(w)
        hub = Hub(rec)
        try:
            _restart_loop(store, rec, restarts, status, hub)
        finally:
            hub.close()

    r = _fork_monitor(rec, body)
    os.read(r, 1)  # EOF once the new monitor is recorded: `ps` never sees the container orphaned
    os.close(r)


def _log_crash(rec: Record) -> None:
    """A monitor bug must not vanish into /dev/null: its traceback goes next to the log."""
    try:
        (rec.dir / "monitor-error.txt").write_text(traceback.format_exc())
    except OSError:
        pass


def hostname_default(container_id: str, network_mode: str) -> str:
    """docker: the short ID, or the host's name with --network host."""
    return socket.gethostname() if network_mode == "host" else container_id[:12]
