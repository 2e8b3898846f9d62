"""Container lifecycle (runtime-spec runtime.md): create, start, state, kill, delete, and run.

The parent side of imgtool's own runtime. `spawn` makes the cgroup (limits set before anything
joins), forks the init as PID 1 of a new PID namespace, moves it into the cgroup, then lets it enter
its other namespaces and set up; the init reports "ready" (or a one-line error) on a pipe. With an exec FIFO the init then blocks until
`start` opens the FIFO, which is runc's create/start split, so a runc-style orchestrator can drive it.

State lives in `/run/imgtool/<id>/state.json` (root-only, tmpfs: it must not survive a reboot
that killed every container). Cleanup (`destroy`) kills whatever is left in the cgroup, removes
the cgroup, the container's writable layer and the state; it is idempotent, so a later `delete`
finishes what a killed monitor could not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from imgtool.atomicfile import write_bytes
from imgtool.errors import ImgtoolError, NotFoundError

from . import syscalls
from .cgroups import Cgroup, Resources
from .init import EXIT_SETUP, Plan, run_init
from .resolve import Root
from .prune import prune

STATE_ROOT = Path(os.environ.get("IMGTOOL_RUNTIME_ROOT", "/run/imgtool"))
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NS_FLAGS = {"pid": syscalls.CLONE_NEWPID, "network": syscalls.CLONE_NEWNET, "mount": syscalls.CLONE_NEWNS,
             "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS, "cgroup": syscalls.CLONE_NEWCGROUP}
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
              signal.SIGWINCH)


class RuntimeError_(ImgtoolError):
    """The container could not be created or started (docker's exit code 125, 126 or 127)."""

    exit_code = 125

    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ExitStatus:
    """How the container's process ended: docker's exit code (128+signal when killed)."""

    code: int
    oom_killed: bool = False
    signal: int | None = None
    cpu_ns: int = 0


@dataclass
class Container:
    """A container known to the runtime, as recorded in its state file."""

    id: str
    pid: int
    bundle: str
    cgroup: Cgroup
    annotations: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    start_time: str = ""
    upper_root: str | None = None  # directory holding this container's writable layer, removed on delete
    upper: str | None = None
    stubs: list[str] = field(default_factory=list)
    name: str | None = None

    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.id

    @property
    def fifo(self) -> Path:
        return self.state_dir / "exec.fifo"

    # -- persistence -----------------------------------------------------------------------------
    def save(self) -> None:
        """Write state.json atomically."""
        doc = {"id": self.id, "pid": self.pid, "bundle": self.bundle, "cgroup": self.cgroup.to_dict(),
               "annotations": self.annotations, "created": self.created, "start_time": self.start_time,
               "upper_root": self.upper_root, "upper": self.upper, "stubs": self.stubs, "name": self.name}
        write_bytes(self.state_dir / "state.json", json.dumps(doc).encode(), durable=False)

    @classmethod
    def load(cls, container_id: str) -> "Container":
        """The container with this id, or NotFoundError."""
        path = STATE_ROOT / container_id / "state.json"
        if not _ID.match(container_id) or not path.exists():
            raise NotFoundError(f"container {container_id!r} does not exist")
        doc = json.loads(path.read_text())
        doc["cgroup"] = Cgroup.from_dict(doc["cgroup"])
        return cls(**doc)

    # -- status ----------------------------------------------------------------------------------
    def alive(self) -> bool:
        """The init still exists and is the same process (start time guards against pid reuse).

        A zombie counts as stopped: it is not reaped here, because its parent (a foreground monitor
        in this very process, perhaps) may be about to wait for it.
        """
        if self.pid <= 0:
            return False
        return _start_time(self.pid) == self.start_time and _proc_state(self.pid) != "Z"

    def status(self) -> str:
        """runtime-spec status: created (waiting on the FIFO), running or stopped."""
        if not self.alive():
            return "stopped"
        return "created" if self.fifo.exists() else "running"

    def state(self) -> dict[str, Any]:
        """The runtime-spec `state` document."""
        status = self.status()
        doc: dict[str, Any] = {"ociVersion": "1.0.2", "id": self.id, "status": status, "bundle": self.bundle,
                               "annotations": self.annotations}
        if status != "stopped":
            doc["pid"] = self.pid
        return doc

    # -- operations ------------------------------------------------------------------------------
    def start(self) -> None:
        """Let a created container exec its process (opening the FIFO releases the blocked init)."""
        if self.status() != "created":
            raise RuntimeError_(f"container {self.id} is {self.status()}, not created")
        fd = os.open(self.fifo, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.read(fd, 1)
        finally:
            os.close(fd)
            self.fifo.unlink(missing_ok=True)

    def kill(self, sig: int = signal.SIGTERM, all_processes: bool = False) -> None:
        """Send a signal to the init (or every process in the cgroup)."""
        if self.status() == "stopped":
            raise RuntimeError_(f"container {self.id} is not running")
        if all_processes:
            for pid in self.cgroup.pids():
                _signal(pid, sig)
        else:
            _signal(self.pid, sig)

    def destroy(self) -> None:
        """Kill what is left, then remove cgroup, writable layer and state (idempotent)."""
        self.cgroup.destroy()
        if self.upper_root:
            shutil.rmtree(self.upper_root, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def remove_stubs(self) -> None:
        """Remove mount points the init had to create from the upper dir, so a RUN diff lacks them.

        Re-resolved in-root within the upper dir and only if still empty (BuildKit CVE-2024-23652).
        """
        if not self.upper:
            return
        with Root(self.upper) as root:
            for rel in reversed(self.stubs):
                parent, _, base = rel.rpartition("/")
                try:
                    fd = root.open_dir(parent)
                except OSError:
                    continue
                try:
                    st = os.stat(base, dir_fd=fd, follow_symlinks=False)
                    if (os.path.stat.S_ISDIR(st.st_mode) and not os.listdir(f"/proc/self/fd/{fd}/{base}")) or \
                       (os.path.stat.S_ISREG(st.st_mode) and st.st_size == 0):
                        prune(fd, base)
                except OSError:
                    pass
                finally:
                    os.close(fd)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


def parse_signal(text: str | int) -> int:
    """'TERM', 'SIGKILL', '9' -> signal number."""
    if isinstance(text, int) or str(text).isdigit():
        return int(text)
    name = str(text).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise RuntimeError_(f"unknown signal {text!r}") from None


def _namespace_flags(spec: dict[str, Any]) -> int:
    flags = 0
    seen = set()
    for ns in (spec.get("linux") or {}).get("namespaces") or []:
        kind = ns.get("type")
        if kind in seen:
            raise RuntimeError_(f"duplicate namespace {kind!r} in config")
        seen.add(kind)
        if kind == "user":
            raise RuntimeError_("user namespaces are not supported by imgtool's runtime (use --runtime crun)")
        if ns.get("path"):
            raise RuntimeError_(f"joining an existing {kind} namespace is not supported (use --runtime runc)")
        if kind not in _NS_FLAGS and kind != "time":
            raise RuntimeError_(f"unknown namespace type {kind!r}")
        flags |= _NS_FLAGS.get(kind, 0)
    return flags


def spawn(container_id: str, spec: dict[str, Any], plan: Plan, bundle: str = "",
          upper_root: str | None = None, stdio: tuple[int, int, int] | None = None, name: str | None = None) -> Container:
    """Create the container up to (not including) exec; returns once the init reported ready.

    `stdio` becomes the init's 0, 1, 2 (else it inherits ours); with process.terminal the init
    replaces them with its pty slave and sends the master over `plan.console_socket`.
    """
    if not _ID.match(container_id):
        raise RuntimeError_(f"invalid container id {container_id!r}")
    STATE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    state_dir = STATE_ROOT / container_id
    try:
        state_dir.mkdir(mode=0o700)
    except FileExistsError:
        raise RuntimeError_(f"container {container_id!r} already exists") from None
    cgroup = None
    try:
        flags = _namespace_flags(spec)
        if plan.exec_fifo:
            os.mkfifo(plan.exec_fifo, 0o600)
        linux = spec.get("linux") or {}
        cgroup = Cgroup.create(linux.get("cgroupsPath") or f"imgtool/{container_id}",
                               Resources.from_spec(linux.get("resources") or {}))
        go_r, go_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = syscalls.fork_in_new_pid_namespace() if flags & syscalls.CLONE_NEWPID else os.fork()
        if pid == 0:
            os.close(go_w)
            os.close(rep_r)
            if stdio is not None:
                for i, fd in enumerate(stdio):
                    os.dup2(fd, i)
            run_init(spec, plan, go_r, rep_w, flags & ~syscalls.CLONE_NEWPID)
        os.close(go_r)
        os.close(rep_w)
        container = Container(container_id, pid, bundle, cgroup, dict(spec.get("annotations") or {}),
                              time.time(), _start_time(pid), upper_root, plan.upper, [], name)
        try:
            cgroup.add(pid)
            os.write(go_w, b"1")
        finally:
            os.close(go_w)
        report = os.fdopen(rep_r, "rb")
        _await_ready(container, report)
        container.save()
        container.report = report  # type: ignore[attr-defined]  # kept open: exec success is its EOF
        return container
    except BaseException:
        if cgroup is not None:
            cgroup.destroy()
        if upper_root:
            shutil.rmtree(upper_root, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
        raise


def _await_ready(container: Container, report: Any) -> None:
    """Read the init's reports until "ready"; an error (or silent death) becomes RuntimeError_."""
    for line in report:
        msg = json.loads(line)
        if "stubs" in msg:
            container.stubs = msg["stubs"]
        elif "ready" in msg:
            return
        elif "error" in msg:
            _, status = os.waitpid(container.pid, 0)
            raise RuntimeError_(msg["error"], os.waitstatus_to_exitcode(status))
    _, status = os.waitpid(container.pid, 0)
    raise RuntimeError_(f"container init exited ({os.waitstatus_to_exitcode(status)}) before it was ready", EXIT_SETUP)


def confirm_exec(container: Container) -> None:
    """After start: EOF on the report pipe means exec succeeded; a line means it failed."""
    report = container.report  # type: ignore[attr-defined]
    try:
        for line in report:
            msg = json.loads(line)
            if "error" in msg:
                _, status = os.waitpid(container.pid, 0)
                raise RuntimeError_(msg["error"], os.waitstatus_to_exitcode(status))
    finally:
        report.close()


def wait(container: Container, relay: Callable[[int], None] | None = None) -> ExitStatus:
    """Wait for the init (forwarding our signals to it), then read OOM and CPU from the cgroup.

    `relay(pid)` (copying the container's stdio, `tty.Streams.relay`) runs first, under the same
    forwarding, and returns once the container has exited and its outputs are closed.
    """
    previous = {}
    for sig in _FORWARDED:
        previous[sig] = signal.signal(sig, lambda s, _f: _signal(container.pid, s))
    try:
        if relay is not None:
            relay(container.pid)
        _, status = os.waitpid(container.pid, 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = os.waitstatus_to_exitcode(status)
    killed_by = -code if code < 0 else None
    return ExitStatus(128 + killed_by if killed_by else code, container.cgroup.oom_killed(), killed_by,
                      container.cgroup.cpu_usage_ns())


def list_containers() -> list[Container]:
    """Every container with state under /run/imgtool."""
    if not STATE_ROOT.is_dir():
        return []
    out = []
    for entry in sorted(STATE_ROOT.iterdir()):
        try:
            out.append(Container.load(entry.name))
        except (NotFoundError, ValueError, KeyError, TypeError):
            continue
    return out
