"""`events`: runc's stats and oom events, read from the container's cgroup files.

Why these keys: go-runc's `Stats` decodes runc's `types.Stats` (cpu.usage.total/percpu/kernel/user,
cpu.throttling, memory.usage/swap/kernel with limit/usage/max/failcnt, memory.raw, pids) from
`events --stats`; each event is one JSON line `{"type","id","data"}`.
"""

from __future__ import annotations

import os
import sys
import time

from . import jsonfast


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(path: str) -> int:
    text = _read(path).strip()
    return 0 if text in ("", "max") else int(text.split()[0])


def _kv(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _usage(limit: int, usage: int, max_: int = 0, failcnt: int = 0) -> dict:
    return {"limit": limit, "usage": usage, "max": max_, "failcnt": failcnt}


def stats_v1(dirs: dict[str, str]) -> dict:
    """runc types.Stats from v1 hierarchies (memory, cpuacct, cpu, pids)."""
    mem, acct, cpu, pids = (dirs.get(k, "/nonexistent") for k in ("memory", "cpuacct", "cpu", "pids"))
    tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    acct_stat = _kv(f"{acct}/cpuacct.stat")
    throttle = _kv(f"{cpu}/cpu.stat")
    raw = _kv(f"{mem}/memory.stat")
    return {
        "cpu": {"usage": {"total": _int(f"{acct}/cpuacct.usage"),
                          "percpu": [int(x) for x in _read(f"{acct}/cpuacct.usage_percpu").split()],
                          "kernel": acct_stat.get("system", 0) * tick_ns, "user": acct_stat.get("user", 0) * tick_ns},
                "throttling": {"periods": throttle.get("nr_periods", 0), "throttledPeriods": throttle.get("nr_throttled", 0),
                               "throttledTime": throttle.get("throttled_time", 0)}},
        "memory": {"cache": raw.get("cache", 0), "raw": raw,
                   "usage": _usage(_int(f"{mem}/memory.limit_in_bytes"), _int(f"{mem}/memory.usage_in_bytes"),
                                   _int(f"{mem}/memory.max_usage_in_bytes"), _int(f"{mem}/memory.failcnt")),
                   "swap": _usage(_int(f"{mem}/memory.memsw.limit_in_bytes"), _int(f"{mem}/memory.memsw.usage_in_bytes"),
                                  _int(f"{mem}/memory.memsw.max_usage_in_bytes"), _int(f"{mem}/memory.memsw.failcnt")),
                   "kernel": _usage(_int(f"{mem}/memory.kmem.limit_in_bytes"), _int(f"{mem}/memory.kmem.usage_in_bytes"),
                                    _int(f"{mem}/memory.kmem.max_usage_in_bytes"), _int(f"{mem}/memory.kmem.failcnt"))},
        "pids": {"current": _int(f"{pids}/pids.current"), "limit": _int(f"{pids}/pids.max")},
    }


def stats_v2(base: str) -> dict:
    """runc types.Stats from one v2 directory (cpu.stat in usec, memory.current/max, pids)."""
    cpu = _kv(f"{base}/cpu.stat")
    raw = _kv(f"{base}/memory.stat")
    return {
        "cpu": {"usage": {"total": cpu.get("usage_usec", 0) * 1000, "kernel": cpu.get("system_usec", 0) * 1000,
                          "user": cpu.get("user_usec", 0) * 1000},
                "throttling": {"periods": cpu.get("nr_periods", 0), "throttledPeriods": cpu.get("nr_throttled", 0),
                               "throttledTime": cpu.get("throttled_usec", 0) * 1000}},
        "memory": {"cache": raw.get("file", 0), "raw": raw,
                   "usage": _usage(_int(f"{base}/memory.max"), _int(f"{base}/memory.current"), _int(f"{base}/memory.peak"),
                                   _kv(f"{base}/memory.events").get("max", 0)),
                   "swap": _usage(_int(f"{base}/memory.swap.max"), _int(f"{base}/memory.swap.current"))},
        "pids": {"current": _int(f"{base}/pids.current"), "limit": _int(f"{base}/pids.max")},
    }


def collect(container) -> dict:
    """The stats of a container's cgroup, v1 or v2 as the host has."""
    doc = container.cgroup_doc
    dirs = doc["dirs"]
    return stats_v2(dirs[""]) if doc.get("unified") else stats_v1(dirs)


def stream(container, once: bool, interval: float) -> None:
    """Print stats events (and `oom` when the kill counter grows) until the container stops."""
    cgroup = container.cgroup
    oom_seen = cgroup.oom_killed()
    while True:
        if not once and container.status() == "stopped":
            return
        sys.stdout.write(jsonfast.dumps({"type": "stats", "id": container.id, "data": collect(container)}) + "\n")
        sys.stdout.flush()
        if once:
            return
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if not oom_seen and cgroup.oom_killed():
                oom_seen = True
                sys.stdout.write(jsonfast.dumps({"type": "oom", "id": container.id}) + "\n")
                sys.stdout.flush()
            if container.status() == "stopped":
                return
            time.sleep(min(0.2, interval))
