"""What `ps`, `inspect` and `stats` show: docker's field names, STATUS wording and units.

Pure functions of a record (and, for stats, cgroup files), so the CLI only formats; docker's
shapes are kept because scripts parse them (`{{.State.ExitCode}}`, `--format json`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imgtool.inspect.docker import human_duration  # go-units HumanDuration, one port for ps and images

from . import ports as portlib
from .logs import timestamp
from .record import Record

ZERO_TIME = "0001-01-01T00:00:00Z"


def status_text(rec: Record, now: float | None = None) -> str:
    """ps's STATUS: `Up 5 minutes`, `Exited (137) 2 seconds ago`, `Restarting (1) 1 second ago`,
    `Created`, `Dead`."""
    now = time.time() if now is None else now
    state = rec.live_status()
    if state == "running":
        return f"Up {human_duration(now - rec.state.started_at)}"
    if state in ("exited", "restarting"):
        finished = rec.state.finished_at or rec.state.started_at
        return f"{state.capitalize()} ({rec.exit_code()}) {human_duration(now - finished)} ago"
    return state.capitalize()


def command_text(rec: Record, width: int = 20) -> str:
    """ps's COMMAND: quoted, cut to `width` columns including the ellipsis."""
    argv = [rec.state.path, *rec.state.args] if rec.state.path else (rec.config.entrypoint or []) + (rec.config.args or [])
    text = " ".join(argv)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f'"{text}"'


def ports_text(rec: Record) -> str:
    """ps's PORTS (published only while running, as docker shows them)."""
    published = [portlib.PortMapping(**p) for p in rec.config.ports] if rec.live_status() == "running" else []
    return portlib.display(published, rec.config.exposed)


def _time(t: float) -> str:
    return timestamp(t) if t else ZERO_TIME


def ps_row(rec: Record, now: float | None = None) -> dict[str, str]:
    """One `ps` row (docker's template fields)."""
    now = time.time() if now is None else now
    created = datetime.fromtimestamp(rec.config.created, timezone.utc)
    return {"ID": rec.id[:12], "Image": rec.config.image, "Command": command_text(rec),
            "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
            "RunningFor": f"{human_duration(now - rec.config.created)} ago", "Status": status_text(rec, now),
            "State": rec.live_status(), "Ports": ports_text(rec), "Names": rec.config.name,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(rec.config.labels.items()))}


def document(rec: Record) -> dict[str, Any]:
    """docker inspect's container object (the keys imgtool can fill, in docker's order)."""
    from .network import run_dir  # not at module level: `ps` would pay for ctypes

    c, s = rec.config, rec.state
    status = rec.live_status()
    running = status == "running"
    port_map: dict[str, list[dict[str, str]]] = {}
    for p in c.ports:
        m = portlib.PortMapping(**p)
        port_map.setdefault(m.key, []).append({"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)})
    for e in c.exposed:
        port_map.setdefault(e if "/" in e else f"{e}/tcp", [])
    res = c.resources
    return {
        "Id": c.id, "Created": _time(c.created), "Path": s.path, "Args": s.args,
        "State": {"Status": status, "Running": running or status == "restarting", "Paused": False,
                  "Restarting": status == "restarting",
                  "OOMKilled": s.oom_killed, "Dead": status == "dead", "Pid": s.pid if running else 0,
                  "ExitCode": rec.exit_code(), "Error": s.error, "StartedAt": _time(s.started_at),
                  "FinishedAt": _time(s.finished_at)},
        "Image": c.image_id, "LogPath": str(rec.log_path), "Name": f"/{c.name}", "RestartCount": s.restart_count,
        "Driver": "overlay",
        "HostConfig": {"NetworkMode": c.network, "AutoRemove": c.auto_remove, "ReadonlyRootfs": c.read_only,
                       "RestartPolicy": {"Name": c.restart_policy, "MaximumRetryCount": c.restart_max},
                       "Memory": res.get("memory") or 0, "MemorySwap": res.get("memory_swap") or 0,
                       "CpuShares": res.get("cpu_shares") or 0, "CpuQuota": res.get("cpu_quota") or 0,
                       "CpuPeriod": res.get("cpu_period") or 0,
                       "NanoCpus": (res.get("cpu_quota") or 0) * 10_000 if res.get("cpu_period") == 100000 else 0,
                       "PidsLimit": res.get("pids"),
                       "LogConfig": {"Type": "json-file", "Config": {"max-size": str(c.log_max_size),
                                                                     "max-file": str(c.log_max_file)}},
                       "PortBindings": {portlib.PortMapping(**p).key: [
                           {"HostIp": p["host_ip"], "HostPort": str(p["host_port"])}] for p in c.ports}},
        "Mounts": [{"Type": m["type"], "Name": m["source"] if m["type"] == "volume" else "",
                    "Source": m["source"], "Destination": m["target"], "Mode": "ro" if m["readonly"] else "",
                    "RW": not m["readonly"], "Propagation": "rprivate" if m["type"] == "bind" else ""}
                   for m in c.mounts],
        "Config": {"Hostname": c.hostname, "User": c.user or "", "Tty": c.tty, "OpenStdin": c.interactive,
                   "Env": c.env, "Cmd": c.args, "Image": c.image, "WorkingDir": c.workdir or "",
                   "Entrypoint": c.entrypoint, "Labels": c.labels, "StopSignal": c.stop_signal,
                   "StopTimeout": c.stop_timeout, "ExposedPorts": {e: {} for e in c.exposed}},
        "NetworkSettings": {"Ports": port_map if running else {},
                            "SandboxKey": str(run_dir(c.id) / "netns") if running and c.network == "bridge" else ""},
    }


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _int(path: Path) -> int:
    text = _read(path).strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def _machine_memory() -> int:
    """MemTotal in bytes (0 if /proc/meminfo cannot say)."""
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _memory_limit(limit: int) -> int:
    """What `docker stats` shows as LIMIT: the cgroup's, or the machine's memory when that is lower
    (no limit: v1's huge number, v2's "max"), as dockerd's stats collector caps it."""
    machine = _machine_memory()
    return machine if machine and (limit <= 0 or limit > machine) else limit


def cgroup_figures(dirs: dict[str, str]) -> dict[str, int]:
    """Memory usage/limit, CPU ns, pids and block I/O from a container's cgroup (v1 or v2)."""
    if "" in dirs:  # v2
        d = Path(dirs[""])
        stat = dict(line.split() for line in _read(d / "memory.stat").splitlines() if " " in line)
        cpu = dict(line.split() for line in _read(d / "cpu.stat").splitlines() if " " in line)
        limit = _read(d / "memory.max").strip()
        rbytes = wbytes = 0
        for line in _read(d / "io.stat").splitlines():
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                rbytes += int(v) if k == "rbytes" else 0
                wbytes += int(v) if k == "wbytes" else 0
        return {"mem": _int(d / "memory.current") - int(stat.get("inactive_file", 0)),
                "limit": _memory_limit(int(limit) if limit.isdigit() else 0), "cpu_ns": int(cpu.get("usage_usec", 0)) * 1000,
                "pids": _int(d / "pids.current"), "read": rbytes, "write": wbytes}
    mem = Path(dirs.get("memory", "/nonexistent"))
    stat = dict(line.split() for line in _read(mem / "memory.stat").splitlines() if " " in line)
    rbytes = wbytes = 0
    for line in _read(Path(dirs.get("blkio", "/nonexistent")) / "blkio.throttle.io_service_bytes").splitlines():
        parts = line.split()
        if len(parts) == 3:
            rbytes += int(parts[2]) if parts[1] == "Read" else 0
            wbytes += int(parts[2]) if parts[1] == "Write" else 0
    return {"mem": _int(mem / "memory.usage_in_bytes") - int(stat.get("total_inactive_file", 0)),
            "limit": _memory_limit(_int(mem / "memory.limit_in_bytes")), "cpu_ns": _int(Path(dirs.get("cpuacct", "/x")) / "cpuacct.usage"),
            "pids": _int(Path(dirs.get("pids", "/nonexistent")) / "pids.current"), "read": rbytes, "write": wbytes}


def _scaled(n: float, base: int, units: tuple[str, ...], digits: int) -> str:
    i = 0
    while n >= base and i < len(units) - 1:
        n /= base
        i += 1
    return f"{n:.{digits}g}{units[i]}"


def binary_size(n: float) -> str:
    """docker's BytesSize (%.4g with KiB, MiB...), for memory."""
    return _scaled(n, 1024, ("B", "KiB", "MiB", "GiB", "TiB"), 4)


def decimal_size(n: float) -> str:
    """docker's HumanSize (3 significant digits, kB, MB...), for I/O."""
    return _scaled(n, 1000, ("B", "kB", "MB", "GB", "TB"), 3)
