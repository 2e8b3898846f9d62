"""A live container cgroup: join, list, freeze, kill, report OOM/CPU, remove (v1 and v2).

Why apart from `cgroups.py` (which creates cgroups and writes limits): `delete`, `kill --all`,
`pause`, `ps` and `exec` only act on an existing cgroup, and each is a separate short-lived
runtime call; this module imports only `os`, `errno` and `time`, paths are plain strings.
Removal is kill-first, recursive and idempotent (runc#3225, crun's destroy_cgroup_path), because
a container can create sub-cgroups and a SIGKILLed init leaves children behind.
"""

from __future__ import annotations

import errno
import os
import time

from imgtool.errors import ImgtoolError

_SIGKILL = 9


class CgroupError(ImgtoolError):
    """A cgroup cannot be created, configured or removed."""

    exit_code = 125


def write(path: str, value: str) -> None:
    """Write a cgroup file; CgroupError naming the file and value on failure."""
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _kill_pids(procs: list[str]) -> bool:
    """SIGKILL every pid listed in the given cgroup.procs files; True if any was found."""
    found = False
    for procs_file in procs:
        try:
            pids = _read(procs_file).split()
        except OSError:
            continue
        for pid in pids:
            found = True
            try:
                os.kill(int(pid), _SIGKILL)
            except ProcessLookupError:
                pass
    return found


def _rmdir_tree(path: str) -> None:
    """rmdir a cgroup and every sub-cgroup below it, deepest first."""
    if not os.path.isdir(path):
        return
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for name in dirnames:
            os.rmdir(os.path.join(dirpath, name))
    os.rmdir(path)


def frozen(dirs: dict[str, str]) -> bool:
    """Whether a cgroup (controller -> directory, as `Cgroup.dirs`) is frozen or freezing: v1
    freezer.state, else v2 cgroup.freeze; False where it has neither."""
    path = f"{dirs['freezer']}/freezer.state" if "freezer" in dirs else f"{dirs.get('', '/nonexistent')}/cgroup.freeze"
    try:
        return _read(path).strip() in ("FROZEN", "FREEZING", "1")
    except OSError:
        return False


class Cgroup:
    """One container's cgroup: a directory per v1 hierarchy (by controller), or one v2 directory ('')."""

    def __init__(self, dirs: dict[str, str], unified: bool, parents: tuple[str, ...] = ()):
        self.dirs = dirs
        self.unified = unified
        self.parents = parents  # directories made for it (e.g. `imgtool/`), removed when left empty

    def add(self, pid: int, sub: dict[str, str] | None = None) -> None:
        """Move a process (the container init, or an exec'd process, before it execs) into every hierarchy.

        `sub` is runc exec's --cgroup: {controller: existing sub-cgroup} per v1 controller, or
        {"": path} for all of them (v2: the one directory); it may not climb out of the container's.
        """
        dirs = dict(self.dirs)
        for ctrl, rel in (sub or {}).items():
            for key in (dirs if ctrl == "" else [ctrl]):
                if key not in self.dirs:
                    raise CgroupError(f"unknown controller {ctrl} in SubCgroupPaths")
                base = self.dirs[key]
                path = os.path.normpath(f"{base}/{rel}")
                if path != base and not path.startswith(base + "/"):
                    raise CgroupError(f"bad sub cgroup path: {rel}")
                dirs[key] = path
        for d in dirs.values():
            try:
                with open(f"{d}/cgroup.procs", "w") as f:
                    f.write(str(pid))
            except OSError as exc:
                raise CgroupError(f"error adding pid {pid} to cgroups: open {d}/cgroup.procs: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None

    def freeze(self, frozen: bool) -> None:
        """pause/resume: v1 freezer.state (waiting out FREEZING), v2 cgroup.freeze."""
        if self.unified:
            write(f"{self.dirs['']}/cgroup.freeze", "1" if frozen else "0")
            return
        if "freezer" not in self.dirs:
            raise CgroupError("pause needs the freezer cgroup controller")
        state = f"{self.dirs['freezer']}/freezer.state"
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(1000):
            write(state, want)
            if _read(state).strip() == want:
                return
            time.sleep(0.001)
        raise CgroupError(f"cgroup did not reach {want}")

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed anything in the cgroup (the `oom_kill` counter, v1 and v2)."""
        path = f"{self.dirs['']}/memory.events" if self.unified else \
            f"{self.dirs.get('memory', '/nonexistent')}/memory.oom_control"
        try:
            for line in _read(path).splitlines():
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
                for line in _read(f"{self.dirs['']}/cpu.stat").splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) * 1000
                return 0
            return int(_read(f"{self.dirs['cpuacct']}/cpuacct.usage"))
        except (OSError, KeyError, ValueError):
            return 0

    def pids(self) -> list[int]:
        """Processes currently in the cgroup, sub-cgroups included (first hierarchy: all hold the same set)."""
        top = next(iter(self.dirs.values()))
        out: list[int] = []
        for dirpath, _, _ in os.walk(top):
            try:
                out += [int(p) for p in _read(f"{dirpath}/cgroup.procs").split()]
            except OSError:
                pass
        return out

    def kill(self) -> None:
        """SIGKILL everything inside, sub-cgroups included (cgroup.kill on v2, freeze+kill on v1)."""
        if self.unified:
            try:
                write(f"{self.dirs['']}/cgroup.kill", "1")
                return
            except CgroupError:
                pass  # before Linux 5.14
        freezer = self.dirs.get("freezer")
        procs = [f"{dp}/cgroup.procs" for d in self.dirs.values() if os.path.isdir(d) for dp, _, _ in os.walk(d)]
        if freezer is not None and os.path.isdir(freezer):
            write(f"{freezer}/freezer.state", "FROZEN")
            try:
                _kill_pids(procs)
            finally:
                write(f"{freezer}/freezer.state", "THAWED")
        else:
            _kill_pids(procs)

    def destroy(self) -> None:
        """Remove every directory, killing what keeps them busy; waits for the dying processes
        with short, growing sleeps (an exiting /bin/true is usually gone within a millisecond,
        and `delete` is on every container's path), up to 5 s."""
        deadline = time.monotonic() + 5.0
        delay = 0.0005
        while True:
            try:
                for d in self.dirs.values():
                    _rmdir_tree(d)
                break
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise CgroupError(f"cannot remove cgroup: {exc}") from None
            if time.monotonic() > deadline:
                raise CgroupError(f"cgroup {next(iter(self.dirs.values()))} still busy after killing its processes")
            self.kill()
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        for parent in sorted(self.parents, key=lambda p: p.count("/"), reverse=True):
            try:
                os.rmdir(parent)
            except OSError:
                pass  # shared with another container, or already gone

    def to_dict(self) -> dict:
        """For the state file, so `delete` can clean up from another process."""
        return {"unified": self.unified, "dirs": dict(self.dirs), "parents": list(self.parents)}

    @classmethod
    def from_dict(cls, d: dict) -> "Cgroup":
        """Inverse of to_dict."""
        return cls({k: str(v) for k, v in d["dirs"].items()}, d["unified"], tuple(str(p) for p in d.get("parents", ())))
