"""cgroup v1 and v2 behind one interface: create a container's cgroup with its limits, update them.

Which version is decided at run time: a unified host has `/sys/fs/cgroup/cgroup.controllers`;
otherwise each v1 controller's mount is found in /proc/self/mountinfo, and the container also
gets a cgroup in the `name=systemd` hierarchy and a hybrid host's controller-less unified one
(key `unified`: '' means a v2 host's one directory), as runc's fs driver makes them, so its
/proc/self/cgroup names it on every line and systemd-style tools find it. File mapping follows runc/crun
(research/runtime.md §3.1). What acts on a live cgroup (join, freeze, kill, remove) is
`cgroupfs.Cgroup`, which the short-lived runtime verbs import without this module.

Paths: v1 places a relative path under this process's own cgroup in each hierarchy (as runc does,
so an outer limit still applies); v2 places a relative path under the root, because v2's "no
internal processes" rule forbids enabling controllers below a cgroup that holds processes.
"""

from __future__ import annotations

import errno
import math
import os
from collections import namedtuple

from .cgroupfs import Cgroup, CgroupError, frozen, write  # noqa: F401  (CgroupError: the name callers catch)

CGROUP_ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "cpuset", "freezer", "devices", "blkio")
# The device rules runc always allows on top of "deny all" (libcontainer/specconv AllowedDevices).
DEFAULT_DEVICES = ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                   "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm")


_RESOURCE_FIELDS = (
    ("memory", None), ("memory_swap", None),  # memory+swap, as in the spec and docker's --memory-swap
    ("memory_reservation", None), ("cpu_shares", None), ("cpu_quota", None), ("cpu_period", None),
    ("cpuset_cpus", None), ("pids", None), ("unified", None), ("cpuset_mems", None), ("cpu_burst", None),
    ("cpu_rt_runtime", None), ("cpu_rt_period", None), ("cpu_idle", None), ("swappiness", None),
    ("disable_oom_killer", False), ("blkio_weight", None),
    ("blkio_throttle", None),  # ((kind, "major:minor", rate), ...), kind: read_bps write_bps read_iops write_iops
    ("devices", None),  # v1 rules ("a", "c 1:3 rwm", "!c 10:* rwm" = deny), in order
)


class Resources(namedtuple("Resources", [f for f, _ in _RESOURCE_FIELDS], defaults=[d for _, d in _RESOURCE_FIELDS])):
    """The runtime-spec `linux.resources` subset imgtool applies (None = leave unset; `unified` is a
    dict of v2 file -> value or None).

    A frozen namedtuple rather than a dataclass: `create` is one short-lived runtime call per
    container, and importing `dataclasses` (inspect, ast, dis, re) costs more than making the cgroup.
    """

    __slots__ = ()

    @classmethod
    def from_spec(cls, res: dict) -> "Resources":
        """From config.json `linux.resources` (or `update --resources`, the same object)."""
        mem, cpu = res.get("memory") or {}, res.get("cpu") or {}
        rules = tuple(filter(None, map(_device_rule, res.get("devices") or []))) or None
        return cls(memory=mem.get("limit"), memory_swap=mem.get("swap"), memory_reservation=mem.get("reservation"),
                   cpu_shares=cpu.get("shares"), cpu_quota=cpu.get("quota"), cpu_period=cpu.get("period"),
                   cpuset_cpus=cpu.get("cpus") or None, pids=(res.get("pids") or {}).get("limit"),
                   unified=dict(res.get("unified") or {}) or None, cpuset_mems=cpu.get("mems") or None,
                   cpu_burst=cpu.get("burst"), cpu_rt_runtime=cpu.get("realtimeRuntime"),
                   cpu_rt_period=cpu.get("realtimePeriod"), cpu_idle=cpu.get("idle"),
                   swappiness=mem.get("swappiness"), disable_oom_killer=bool(mem.get("disableOOMKiller")),
                   blkio_weight=(res.get("blockIO") or {}).get("weight"), devices=rules,
                   blkio_throttle=_throttles(res.get("blockIO") or {}))


_THROTTLES = (("throttleReadBpsDevice", "read_bps", "rbps"), ("throttleWriteBpsDevice", "write_bps", "wbps"),
              ("throttleReadIOPSDevice", "read_iops", "riops"), ("throttleWriteIOPSDevice", "write_iops", "wiops"))


def _throttles(blkio: dict) -> tuple | None:
    """blockIO.throttle*Device entries as (v1 kind, "major:minor", rate), in the spec's order."""
    out = []
    for key, kind, _ in _THROTTLES:
        for d in blkio.get(key) or []:
            try:
                out.append((kind, f"{int(d['major'])}:{int(d['minor'])}", int(d["rate"])))
            except (KeyError, TypeError, ValueError):
                raise CgroupError(f"linux.resources.blockIO.{key}: each entry needs integer major, minor "
                                  f"and rate, not {d!r}") from None
    return tuple(out) or None


def _device_rule(d: dict) -> str | None:
    """A linux.resources.devices entry as a v1 devices.allow line ('!' prefix: deny), or None
    when it names no access at all.

    Access letters other than r, w and m are ignored, as runc's `devices.Permissions` set does
    ("rwa" is "rw"): the kernel rejects the whole line for one unknown letter."""
    kind = d.get("type") or "a"
    if kind not in ("a", "b", "c"):
        raise CgroupError(f"linux.resources.devices: invalid type {kind!r}")
    given = d.get("access") or "rwm"
    access = "".join(p for p in "rwm" if p in given)
    if not access:
        return None
    major = "*" if d.get("major") in (None, -1) else str(d["major"])
    minor = "*" if d.get("minor") in (None, -1) else str(d["minor"])
    rule = "a" if kind == "a" and major == minor == "*" else f"{kind} {major}:{minor} {access}"
    return rule if d.get("allow") else "!" + rule


def resolve_path(cgroups_path: str, container_id: str, systemd: bool) -> str:
    """linux.cgroupsPath as a cgroupfs path: `/a/b` (absolute), `a/b` (relative to our own), or
    systemd's `slice:prefix:name` -> `/a.slice/a-b.slice/prefix-name.scope`, the layout runc's systemd
    driver produces (each `-` in a slice name is one level)."""
    if not cgroups_path:
        return f"/system.slice/runc-{container_id}.scope" if systemd else f"imgtool/{container_id}"
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        if systemd:
            raise CgroupError(f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                              f'got "{cgroups_path}" instead')
        return cgroups_path
    slice_, prefix, name = parts
    slice_ = slice_ or "system.slice"
    if not slice_.endswith(".slice") or "/" in slice_ or "/" in name:
        raise CgroupError(f"invalid cgroupsPath {cgroups_path!r}: the slice must end in .slice")
    levels, path = slice_[: -len(".slice")].split("-"), ""
    if slice_ != "-.slice":
        for i in range(len(levels)):
            path += "/" + "-".join(levels[: i + 1]) + ".slice"
    unit = name if name.endswith(".slice") else (f"{prefix}-{name}.scope" if prefix else f"{name}.scope")
    return f"{path}/{unit}"


def is_unified() -> bool:
    """True on a cgroup v2-only host."""
    return os.path.exists(f"{CGROUP_ROOT}/cgroup.controllers")


_write = write


def cpu_weight(shares: int) -> int:
    """cpu.shares (v1) -> cpu.weight (v2), the log-quadratic fit runc and crun share."""
    if shares == 0:
        return 0
    level = math.log2(shares)
    return min(10000, max(1, math.ceil(10 ** ((level * level + 125 * level) / 612.0 - 7.0 / 34.0))))


def _v1_mounts() -> dict[str, str]:
    """controller (or `name=systemd`, or `unified` for a hybrid host's v2 hierarchy) -> its mount point."""
    out: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _src, superopts = post.split()[:3]
            if fstype == "cgroup2":
                out.setdefault("unified", pre.split()[4])
                continue
            if fstype != "cgroup":
                continue
            for opt in superopts.split(","):
                if opt in V1_CONTROLLERS or opt == "name=systemd":
                    out.setdefault(opt, pre.split()[4])
    return out


def _own_paths() -> dict[str, str]:
    """controller (or '' for v2) -> this process's cgroup path."""
    out: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def create(path: str, res: Resources, devices: tuple[str, ...] | None = DEFAULT_DEVICES) -> Cgroup:
    """Make the cgroup and apply limits before any process joins (so none runs unlimited)."""
    unified = is_unified()
    own = _own_paths()
    if unified:
        dirs = {"": os.path.normpath(os.path.join(CGROUP_ROOT, path.lstrip("/")))}
    else:
        dirs = {}
        for ctl, mnt in _v1_mounts().items():
            parent = "/" if path.startswith("/") else own.get("" if ctl == "unified" else ctl, "/")
            dirs[ctl] = os.path.normpath(os.path.join(mnt, parent.lstrip("/"), path.lstrip("/")))
    if frozen(dirs):  # a process joining it would hang (D state) until someone thaws it: runc refuses
        raise CgroupError("container's cgroup unexpectedly frozen")
    made = tuple(p for d in dirs.values() for p in _ancestors(d) if not os.path.exists(p))
    cg = Cgroup(dirs, unified, made)
    try:
        for ctl, d in dirs.items():
            if ctl == "cpuset":
                _mkdir_cpuset(d)
            else:
                os.makedirs(d, exist_ok=True)
        _apply_v2(dirs[""], res) if unified else _apply_v1(dirs, res, devices)
    except BaseException:
        cg.destroy()
        raise
    return cg


def update(cg: Cgroup, res: Resources) -> None:
    """`update --resources`: apply new limits to a live cgroup (devices are left alone, as runc)."""
    _apply_v2(cg.dirs[""], res) if cg.unified else _apply_v1(cg.dirs, res, None)


def _ancestors(path: str) -> list[str]:
    out = []
    path = os.path.dirname(path)
    while path not in ("/", ""):
        out.append(path)
        path = os.path.dirname(path)
    return out


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()

def _mkdir_cpuset(d: str) -> None:
    """v1 cpuset children start with empty cpus/mems: copy them down, or no task can join. Levels
    that exist but are empty (a pod cgroup someone else made) are filled too, as runc's
    cpuset ensureParent does: up to the first level that has its own cpus."""
    chain = []
    p = d
    while not os.path.exists(p) or not _read(f"{p}/cpuset.cpus").strip():
        chain.append(p)
        p = os.path.dirname(p)
    for child in reversed(chain):
        if not os.path.exists(child):
            os.mkdir(child)
        for key in ("cpuset.cpus", "cpuset.mems"):
            if not _read(f"{child}/{key}").strip():
                write(f"{child}/{key}", _read(f"{os.path.dirname(child)}/{key}"))

def _write_rejected(path: str, value: str) -> bool:
    """Write a cgroup file; True if the kernel said EINVAL (a value that only fits once a sibling
    knob has changed), CgroupError for anything else."""
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return True
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from None
    return False


def _write_dependent(first: tuple[str, object], then: tuple[str, object]) -> None:
    """Two inter-dependent knobs (period and quota/runtime), either may be None, in runc's order:
    `first`, then `then`; if the kernel rejects `first` for its old partner, `first` again after."""
    (p1, v1), (p2, v2) = first, then
    retry = v1 is not None and _write_rejected(p1, str(v1))
    if retry and v2 is None:
        _write(p1, str(v1))  # nothing to change first: the EINVAL is the answer
    if v2 is not None:
        _write(p2, str(v2))
        if retry:
            _write(p1, str(v1))


def _apply_memory_v1(mem: str, res: Resources) -> None:
    """Limit and memory+swap in an order the kernel accepts (memsw >= limit at every step, runc's
    setMemoryAndSwap): raising writes memsw first, lowering the limit first. -1 is unlimited."""
    memsw = f"{mem}/memory.memsw.limit_in_bytes"
    swap = res.memory_swap if os.path.exists(memsw) else None
    if res.memory is not None and swap is not None:
        current = int(_read(f"{mem}/memory.limit_in_bytes"))
        order = [(memsw, swap), (f"{mem}/memory.limit_in_bytes", res.memory)]
        if not (swap == -1 or current < swap):
            order.reverse()
        for path, value in order:
            _write(path, str(value))
        return
    if res.memory is not None:
        _write(f"{mem}/memory.limit_in_bytes", str(res.memory))
    if swap is not None:
        _write(memsw, str(swap))


def _pids_max(limit: int) -> str:
    """runc's pids.max: negative is unlimited, 0 becomes 1 (what systemd's TasksMax can express,
    so both drivers agree)."""
    return "max" if limit < 0 else str(max(limit, 1))


def _apply_v1(d: dict[str, str], res: Resources, devices: tuple[str, ...] | None) -> None:
    if res.memory is not None or res.memory_swap is not None:
        _apply_memory_v1(d["memory"], res)
    if res.memory_reservation is not None:
        _write(f"{d['memory']}/memory.soft_limit_in_bytes", str(res.memory_reservation))
    if res.cpu_shares is not None:
        _write(f"{d['cpu']}/cpu.shares", str(res.cpu_shares))
    cpu = d.get("cpu", "")
    _write_dependent((f"{cpu}/cpu.cfs_period_us", res.cpu_period), (f"{cpu}/cpu.cfs_quota_us", res.cpu_quota))
    if res.cpu_burst is not None:
        _write_dependent((f"{cpu}/cpu.cfs_burst_us", res.cpu_burst), (f"{cpu}/cpu.cfs_quota_us", res.cpu_quota))
    _write_dependent((f"{cpu}/cpu.rt_period_us", res.cpu_rt_period), (f"{cpu}/cpu.rt_runtime_us", res.cpu_rt_runtime))
    if res.cpu_idle is not None:
        if not os.path.exists(f"{cpu}/cpu.idle"):
            raise CgroupError("linux.resources.cpu.idle: this kernel's cpu controller has no cpu.idle")
        _write(f"{cpu}/cpu.idle", str(res.cpu_idle))
    if res.cpuset_cpus:
        _write(f"{d['cpuset']}/cpuset.cpus", res.cpuset_cpus)
    if res.cpuset_mems:
        _write(f"{d['cpuset']}/cpuset.mems", res.cpuset_mems)
    if res.swappiness is not None and res.swappiness >= 0:
        _write(f"{d['memory']}/memory.swappiness", str(res.swappiness))
    if res.disable_oom_killer:
        _write(f"{d['memory']}/memory.oom_control", "1")
    if res.blkio_weight:
        _write(f"{d['blkio']}/blkio.weight", str(res.blkio_weight))
    for kind, dev, rate in res.blkio_throttle or ():
        _write(f"{d['blkio']}/blkio.throttle.{kind}_device", f"{dev} {rate}")
    if res.pids is not None:
        _write(f"{d['pids']}/pids.max", _pids_max(res.pids))
    if res.unified:
        raise CgroupError("linux.resources.unified needs a cgroup v2 host")
    if devices is not None and "devices" in d:
        rules = res.devices if res.devices is not None else ("!a",)
        for rule in (*rules, *devices):  # runc: the spec's rules, then the devices it always creates
            _write(f"{d['devices']}/" + ("devices.deny" if rule.startswith("!") else "devices.allow"), rule.lstrip("!"))

def _apply_v2(base: str, res: Resources) -> None:
    wanted = {"memory": res.memory is not None or res.memory_swap is not None or res.memory_reservation is not None,
              "cpu": res.cpu_shares is not None or res.cpu_quota is not None or res.cpu_burst is not None,
              "cpuset": bool(res.cpuset_cpus or res.cpuset_mems), "pids": res.pids is not None}
    for ctl in (c for c, on in wanted.items() if on):
        _enable_v2(base, ctl)
    if res.memory is not None:
        _write(f"{base}/memory.max", "max" if res.memory < 0 else str(res.memory))
    if res.memory_swap is not None:
        if res.memory is None or (res.memory_swap >= 0 and res.memory_swap < res.memory):
            raise CgroupError("memory+swap limit must be at least the memory limit")
        swap = "max" if res.memory_swap < 0 else str(res.memory_swap - res.memory)
        _write(f"{base}/memory.swap.max", swap)
    if res.memory_reservation is not None:
        _write(f"{base}/memory.low", str(res.memory_reservation))
    if res.cpu_shares is not None:
        _write(f"{base}/cpu.weight", str(cpu_weight(res.cpu_shares)))
    if res.cpu_quota is not None or res.cpu_period is not None:
        quota = "max" if res.cpu_quota is None or res.cpu_quota < 0 else str(res.cpu_quota)
        _write(f"{base}/cpu.max", f"{quota} {res.cpu_period or 100000}")
    if res.cpu_burst is not None:
        _write(f"{base}/cpu.max.burst", str(res.cpu_burst))
    if res.cpu_idle is not None:
        _write(f"{base}/cpu.idle", str(res.cpu_idle))
    if res.cpu_rt_runtime is not None or res.cpu_rt_period is not None:
        raise CgroupError("linux.resources.cpu realtime limits need cgroup v1")
    if res.cpuset_cpus:
        _write(f"{base}/cpuset.cpus", res.cpuset_cpus)
    if res.cpuset_mems:
        _write(f"{base}/cpuset.mems", res.cpuset_mems)
    if res.swappiness is not None and res.swappiness >= 0:
        raise CgroupError("linux.resources.memory.swappiness needs cgroup v1")
    if res.disable_oom_killer:
        raise CgroupError("linux.resources.memory.disableOOMKiller needs cgroup v1")
    if res.blkio_weight:
        _enable_v2(base, "io")
        _write(f"{base}/io.weight", f"default {res.blkio_weight}")
    if res.blkio_throttle:
        _enable_v2(base, "io")
        v2_key = {kind: key for _, kind, key in _THROTTLES}
        for kind, dev, rate in res.blkio_throttle:
            _write(f"{base}/io.max", f"{dev} {v2_key[kind]}={rate}")
    if res.pids is not None:
        _write(f"{base}/pids.max", _pids_max(res.pids))
    for key, value in (res.unified or {}).items():
        if "/" in key or key.startswith("."):
            raise CgroupError(f"invalid unified cgroup key {key!r}")
        _write(f"{base}/{key}", value)

def _enable_v2(base: str, controller: str) -> None:
    """Enable a controller on every ancestor's subtree_control; the spec says error if missing."""
    chain = [p for p in _ancestors(base) if p == CGROUP_ROOT or p.startswith(CGROUP_ROOT + "/")]
    for ancestor in reversed(chain):
        if controller not in _read(f"{ancestor}/cgroup.controllers").split():
            raise CgroupError(f"cgroup controller {controller!r} is not available on this host")
        if controller not in _read(f"{ancestor}/cgroup.subtree_control").split():
            _write(f"{ancestor}/cgroup.subtree_control", f"+{controller}")
