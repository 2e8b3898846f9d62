"""cgroup v1 and v2 behind one interface: create with limits, add the init, report OOM, kill, remove.

Which version is decided at run time: a unified host has `/sys/fs/cgroup/cgroup.controllers`;
otherwise each v1 controller's mount is found in /proc/self/mountinfo (a hybrid host's
`/sys/fs/cgroup/unified` carries no controllers and is ignored). File mapping follows runc/crun
(research/runtime.md §3.1). Removal is kill-first, recursive and idempotent (runc#3225, crun's
destroy_cgroup_path), because a container can create sub-cgroups and a SIGKILLed init leaves
children behind.

Paths: v1 places a relative path under this process's own cgroup in each hierarchy (as runc does,
so an outer limit still applies); v2 places a relative path under the root, because v2's "no
internal processes" rule forbids enabling controllers below a cgroup that holds processes.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from imgtool.errors import ImgtoolError

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "cpuset", "freezer", "devices", "blkio")
# The device rules runc always allows on top of "deny all" (libcontainer/specconv AllowedDevices).
DEFAULT_DEVICES = ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                   "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm")


class CgroupError(ImgtoolError):
    """A cgroup cannot be created, configured or removed."""

    exit_code = 125


@dataclass(frozen=True)
class Resources:
    """The runtime-spec `linux.resources` subset imgtool applies (None = leave unset)."""

    memory: int | None = None
    memory_swap: int | None = None  # memory+swap, as in the spec and docker's --memory-swap
    memory_reservation: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset_cpus: str | None = None
    pids: int | None = None
    unified: dict[str, str] = field(default_factory=dict)
    cpuset_mems: str | None = None
    cpu_burst: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_rt_period: int | None = None
    cpu_idle: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool = False
    blkio_weight: int | None = None
    devices: tuple[str, ...] | None = None  # v1 rules ("a", "c 1:3 rwm", "!c 10:* rwm" = deny), in order

    @classmethod
    def from_spec(cls, res: dict) -> "Resources":
        """From config.json `linux.resources` (or `update --resources`, the same object)."""
        mem, cpu = res.get("memory") or {}, res.get("cpu") or {}
        rules = tuple(_device_rule(d) for d in res.get("devices") or []) or None
        return cls(memory=mem.get("limit"), memory_swap=mem.get("swap"), memory_reservation=mem.get("reservation"),
                   cpu_shares=cpu.get("shares"), cpu_quota=cpu.get("quota"), cpu_period=cpu.get("period"),
                   cpuset_cpus=cpu.get("cpus") or None, pids=(res.get("pids") or {}).get("limit"),
                   unified=dict(res.get("unified") or {}), cpuset_mems=cpu.get("mems") or None,
                   cpu_burst=cpu.get("burst"), cpu_rt_runtime=cpu.get("realtimeRuntime"),
                   cpu_rt_period=cpu.get("realtimePeriod"), cpu_idle=cpu.get("idle"),
                   swappiness=mem.get("swappiness"), disable_oom_killer=bool(mem.get("disableOOMKiller")),
                   blkio_weight=(res.get("blockIO") or {}).get("weight"), devices=rules)


def _device_rule(d: dict) -> str:
    """A linux.resources.devices entry as a v1 devices.allow line ('!' prefix: deny)."""
    kind = d.get("type") or "a"
    if kind not in ("a", "b", "c"):
        raise CgroupError(f"linux.resources.devices: invalid type {kind!r}")
    access = d.get("access") or "rwm"
    if set(access) - set("rwm"):
        raise CgroupError(f"linux.resources.devices: invalid access {access!r}")
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
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from None


def cpu_weight(shares: int) -> int:
    """cpu.shares (v1) -> cpu.weight (v2), the log-quadratic fit runc and crun share."""
    if shares == 0:
        return 0
    level = math.log2(shares)
    return min(10000, max(1, math.ceil(10 ** ((level * level + 125 * level) / 612.0 - 7.0 / 34.0))))


def _v1_mounts() -> dict[str, Path]:
    """controller -> mount point of its v1 hierarchy."""
    out: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _src, superopts = post.split()[:3]
            if fstype != "cgroup":
                continue
            for opt in superopts.split(","):
                if opt in V1_CONTROLLERS:
                    out.setdefault(opt, Path(pre.split()[4]))
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


def _kill_pids(procs: list[Path]) -> bool:
    """SIGKILL every pid listed in the given cgroup.procs files; True if any was found."""
    found = False
    for procs_file in procs:
        try:
            pids = procs_file.read_text().split()
        except OSError:
            continue
        for pid in pids:
            found = True
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    return found


def _rmdir_tree(path: Path) -> None:
    """rmdir a cgroup and every sub-cgroup below it, deepest first."""
    if not path.is_dir():
        return
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for name in dirnames:
            os.rmdir(os.path.join(dirpath, name))
    os.rmdir(path)


class Cgroup:
    """One container's cgroup: a directory per v1 hierarchy, or one v2 directory."""

    def __init__(self, dirs: dict[str, Path], unified: bool, parents: tuple[Path, ...] = ()):
        self.dirs = dirs
        self.unified = unified
        self.parents = parents  # directories made for it (e.g. `imgtool/`), removed when left empty

    # -- creation --------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str, res: Resources, devices: tuple[str, ...] | None = DEFAULT_DEVICES) -> "Cgroup":
        """Make the cgroup and apply limits before any process joins (so none runs unlimited)."""
        unified = is_unified()
        own = _own_paths()
        if unified:
            base = CGROUP_ROOT / (path.lstrip("/") if path.startswith("/") else path)
            dirs = {"": base}
        else:
            mounts = _v1_mounts()
            dirs = {}
            for ctl, mnt in mounts.items():
                parent = "/" if path.startswith("/") else own.get(ctl, "/")
                dirs[ctl] = mnt / parent.lstrip("/") / path.lstrip("/")
        made = tuple(p for d in dirs.values() for p in d.parents if not p.exists())
        cg = cls(dirs, unified, made)
        try:
            for ctl, d in dirs.items():
                if ctl == "cpuset":
                    cls._mkdir_cpuset(d)
                else:
                    d.mkdir(parents=True, exist_ok=True)
            cg._apply_v2(res) if unified else cg._apply_v1(res, devices)
        except BaseException:
            cg.destroy()
            raise
        return cg

    @staticmethod
    def _mkdir_cpuset(d: Path) -> None:
        """v1 cpuset children start with empty cpus/mems: copy them down, or no task can join."""
        missing = []
        p = d
        while not p.exists():
            missing.append(p)
            p = p.parent
        for child in reversed(missing):
            child.mkdir()
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not (child / key).read_text().strip():
                    (child / key).write_text((child.parent / key).read_text())

    def _apply_v1(self, res: Resources, devices: tuple[str, ...] | None) -> None:
        d = self.dirs
        if res.memory is not None and res.memory >= 0:
            _write(d["memory"] / "memory.limit_in_bytes", str(res.memory))
        if res.memory_swap is not None:
            if (d["memory"] / "memory.memsw.limit_in_bytes").exists():
                _write(d["memory"] / "memory.memsw.limit_in_bytes", str(res.memory_swap))
        if res.memory_reservation is not None:
            _write(d["memory"] / "memory.soft_limit_in_bytes", str(res.memory_reservation))
        if res.cpu_shares is not None:
            _write(d["cpu"] / "cpu.shares", str(res.cpu_shares))
        if res.cpu_period is not None:
            _write(d["cpu"] / "cpu.cfs_period_us", str(res.cpu_period))
        if res.cpu_quota is not None:
            _write(d["cpu"] / "cpu.cfs_quota_us", str(res.cpu_quota))
        if res.cpu_burst is not None:
            _write(d["cpu"] / "cpu.cfs_burst_us", str(res.cpu_burst))
        if res.cpu_rt_period is not None:
            _write(d["cpu"] / "cpu.rt_period_us", str(res.cpu_rt_period))
        if res.cpu_rt_runtime is not None:
            _write(d["cpu"] / "cpu.rt_runtime_us", str(res.cpu_rt_runtime))
        if res.cpu_idle:
            raise CgroupError("linux.resources.cpu.idle needs a cgroup v2 host")
        if res.cpuset_cpus:
            _write(d["cpuset"] / "cpuset.cpus", res.cpuset_cpus)
        if res.cpuset_mems:
            _write(d["cpuset"] / "cpuset.mems", res.cpuset_mems)
        if res.swappiness is not None and res.swappiness >= 0:
            _write(d["memory"] / "memory.swappiness", str(res.swappiness))
        if res.disable_oom_killer:
            _write(d["memory"] / "memory.oom_control", "1")
        if res.blkio_weight:
            _write(d["blkio"] / "blkio.weight", str(res.blkio_weight))
        if res.pids:  # runc: 0 leaves it alone, negative is unlimited
            _write(d["pids"] / "pids.max", "max" if res.pids < 0 else str(res.pids))
        if res.unified:
            raise CgroupError("linux.resources.unified needs a cgroup v2 host")
        if devices is not None and "devices" in d:
            rules = res.devices if res.devices is not None else ("!a",)
            for rule in (*rules, *devices):  # runc: the spec's rules, then the devices it always creates
                _write(d["devices"] / ("devices.deny" if rule.startswith("!") else "devices.allow"), rule.lstrip("!"))

    def _apply_v2(self, res: Resources) -> None:
        base = self.dirs[""]
        wanted = {"memory": res.memory is not None or res.memory_swap is not None or res.memory_reservation is not None,
                  "cpu": res.cpu_shares is not None or res.cpu_quota is not None or res.cpu_burst is not None,
                  "cpuset": bool(res.cpuset_cpus or res.cpuset_mems), "pids": bool(res.pids)}
        for ctl in (c for c, on in wanted.items() if on):
            self._enable_v2(base, ctl)
        if res.memory is not None:
            _write(base / "memory.max", "max" if res.memory < 0 else str(res.memory))
        if res.memory_swap is not None:
            if res.memory is None or (res.memory_swap >= 0 and res.memory_swap < res.memory):
                raise CgroupError("memory+swap limit must be at least the memory limit")
            swap = "max" if res.memory_swap < 0 else str(res.memory_swap - res.memory)
            _write(base / "memory.swap.max", swap)
        if res.memory_reservation is not None:
            _write(base / "memory.low", str(res.memory_reservation))
        if res.cpu_shares is not None:
            _write(base / "cpu.weight", str(cpu_weight(res.cpu_shares)))
        if res.cpu_quota is not None or res.cpu_period is not None:
            quota = "max" if res.cpu_quota is None or res.cpu_quota < 0 else str(res.cpu_quota)
            _write(base / "cpu.max", f"{quota} {res.cpu_period or 100000}")
        if res.cpu_burst is not None:
            _write(base / "cpu.max.burst", str(res.cpu_burst))
        if res.cpu_idle is not None:
            _write(base / "cpu.idle", str(res.cpu_idle))
        if res.cpu_rt_runtime is not None or res.cpu_rt_period is not None:
            raise CgroupError("linux.resources.cpu realtime limits need cgroup v1")
        if res.cpuset_cpus:
            _write(base / "cpuset.cpus", res.cpuset_cpus)
        if res.cpuset_mems:
            _write(base / "cpuset.mems", res.cpuset_mems)
        if res.swappiness is not None and res.swappiness >= 0:
            raise CgroupError("linux.resources.memory.swappiness needs cgroup v1")
        if res.disable_oom_killer:
            raise CgroupError("linux.resources.memory.disableOOMKiller needs cgroup v1")
        if res.blkio_weight:
            self._enable_v2(base, "io")
            _write(base / "io.weight", f"default {res.blkio_weight}")
        if res.pids:  # runc: 0 leaves it alone, negative is unlimited
            _write(base / "pids.max", "max" if res.pids < 0 else str(res.pids))
        for key, value in res.unified.items():
            if "/" in key or key.startswith("."):
                raise CgroupError(f"invalid unified cgroup key {key!r}")
            _write(base / key, value)

    @staticmethod
    def _enable_v2(base: Path, controller: str) -> None:
        """Enable a controller on every ancestor's subtree_control; the spec says error if missing."""
        chain = []
        p = base.parent
        while p != CGROUP_ROOT.parent and CGROUP_ROOT in (p, *p.parents):
            chain.append(p)
            p = p.parent
        for ancestor in reversed(chain):
            if controller not in (ancestor / "cgroup.controllers").read_text().split():
                raise CgroupError(f"cgroup controller {controller!r} is not available on this host")
            if controller not in (ancestor / "cgroup.subtree_control").read_text().split():
                _write(ancestor / "cgroup.subtree_control", f"+{controller}")

    # -- use -------------------------------------------------------------------------------------
    def add(self, pid: int) -> None:
        """Move a process (the container init, before it execs) into every hierarchy."""
        for d in self.dirs.values():
            _write(d / "cgroup.procs", str(pid))

    def update(self, res: Resources) -> None:
        """`update --resources`: apply new limits to a live cgroup (devices are left alone, as runc)."""
        self._apply_v2(res) if self.unified else self._apply_v1(res, None)

    def freeze(self, frozen: bool) -> None:
        """pause/resume: v1 freezer.state (waiting out FREEZING), v2 cgroup.freeze."""
        if self.unified:
            _write(self.dirs[""] / "cgroup.freeze", "1" if frozen else "0")
            return
        if "freezer" not in self.dirs:
            raise CgroupError("pause needs the freezer cgroup controller")
        state = self.dirs["freezer"] / "freezer.state"
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(1000):
            _write(state, want)
            if state.read_text().strip() == want:
                return
            time.sleep(0.001)
        raise CgroupError(f"cgroup did not reach {want}")

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed anything in the cgroup (the `oom_kill` counter, v1 and v2)."""
        path = self.dirs[""] / "memory.events" if self.unified else self.dirs.get("memory", Path("/nonexistent")) / "memory.oom_control"
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
        except OSError:
            pass
        return False

    def cpu_usage_ns(self) -> int:
        """CPU time used by the cgroup so far, in nanoseconds."""
        try:
            if self.unified:
                for line in (self.dirs[""] / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) * 1000
                return 0
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text())
        except (OSError, KeyError, ValueError):
            return 0

    def pids(self) -> list[int]:
        """Processes currently in the cgroup (first hierarchy; all hold the same set)."""
        d = next(iter(self.dirs.values()))
        try:
            return [int(p) for p in (d / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL everything inside, sub-cgroups included (cgroup.kill on v2, freeze+kill on v1)."""
        if self.unified:
            kill_file = self.dirs[""] / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                    return
                except OSError:
                    pass
        freezer = self.dirs.get("freezer")
        procs = [Path(dp) / "cgroup.procs" for d in self.dirs.values() if d.is_dir() for dp, _, _ in os.walk(d)]
        if freezer is not None and freezer.is_dir():
            (freezer / "freezer.state").write_text("FROZEN")
            try:
                _kill_pids(procs)
            finally:
                (freezer / "freezer.state").write_text("THAWED")
        else:
            _kill_pids(procs)

    def destroy(self) -> None:
        """Kill, then remove every directory; retries EBUSY while the dying processes exit."""
        for attempt in range(500):
            busy = False
            try:
                if attempt:
                    self.kill()
                for d in self.dirs.values():
                    _rmdir_tree(d)
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise CgroupError(f"cannot remove cgroup: {exc}") from None
                busy = True
            if not busy:
                for parent in sorted(self.parents, key=lambda p: len(p.parts), reverse=True):
                    try:
                        parent.rmdir()
                    except OSError:
                        pass  # shared with another container, or already gone
                return
            time.sleep(0.01)
        raise CgroupError(f"cgroup {next(iter(self.dirs.values()))} still busy after killing its processes")

    def to_dict(self) -> dict:
        """For the state file, so `delete` can clean up from another process."""
        return {"unified": self.unified, "dirs": {k: str(v) for k, v in self.dirs.items()},
                "parents": [str(p) for p in self.parents]}

    @classmethod
    def from_dict(cls, d: dict) -> "Cgroup":
        """Inverse of to_dict."""
        return cls({k: Path(v) for k, v in d["dirs"].items()}, d["unified"], tuple(Path(p) for p in d.get("parents", ())))
