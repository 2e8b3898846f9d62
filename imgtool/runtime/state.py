"""A container's recorded state and its live status: the part of the runtime every verb needs.

Why its own module with only `os` and `_json` imports: orchestrators call the runtime binary
several times per container (`state`, `kill`, `start`, `delete`), so whatever `state` imports is
paid on every call. Creating and signalling live elsewhere (`container.py`, `lifecycle.py`).

State lives in `<root>/<id>/state.json`, root `/run/imgtool` (tmpfs: it must not survive a
reboot that killed every container) unless `--root`/`IMGTOOL_RUNTIME_ROOT` says otherwise.
Status is recomputed on every call, as runc's refreshState: init gone, zombie or with another
start time (pid reuse) -> stopped; cgroup frozen -> paused; exec FIFO present -> created.
"""

from __future__ import annotations

import os
import time

from imgtool.errors import ImgtoolError, NotFoundError

from . import jsonfast

STATE_ROOT = os.environ.get("IMGTOOL_RUNTIME_ROOT", "/run/imgtool")
OCI_VERSION = "1.0.2"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")


class RuntimeError_(ImgtoolError):
    """The container could not be created or started (docker's exit code 125, 126 or 127)."""

    exit_code = 125

    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


def set_root(path: str) -> None:
    """Use another state directory (runc's --root), made absolute; '/' is refused as runc does."""
    global STATE_ROOT
    path = os.path.abspath(path)
    if path == "/":
        raise RuntimeError_("option --root argument should not be set to /", 1)
    STATE_ROOT = path


def valid_id(container_id: str) -> bool:
    """runc's ID rule: [A-Za-z0-9_+.-]+, and not '.' or '..'."""
    return bool(container_id) and container_id not in (".", "..") and len(container_id) <= 1024 \
        and not set(container_id) - _ID_CHARS


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name ([0] = state, [19] = start time)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].decode().split()
    except OSError:
        return []


def write_pid_file(path: str, pid: int) -> None:
    """runc's pid file: the bare decimal pid (go-runc reads it with Atoi, no newline), written to
    `.name` in the same directory and renamed, so a reader never sees it half-written."""
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, "." + name)
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_SYNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise RuntimeError_(f"--pid-file {path}: {exc.strerror}", 1) from None


def rfc3339(ts: float) -> str:
    """A Unix time as Go's time.RFC3339Nano in UTC (what go-runc and CRI-O decode)."""
    whole = int(ts)
    frac = f"{ts - whole:.9f}"[2:].rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ("." + frac if frac else "") + "Z"


class Container:
    """A container known to the runtime, as recorded in its state file (all fields JSON-able)."""

    FIELDS = ("id", "pid", "bundle", "rootfs", "cgroup", "annotations", "created", "start_time", "upper_root",
              "upper", "stubs", "name", "namespaces", "systemd", "owner")

    def __init__(self, id: str, pid: int, bundle: str, cgroup: dict, annotations: dict | None = None,
                 created: float = 0.0, start_time: str = "", upper_root: str | None = None,
                 upper: str | None = None, stubs: list | None = None, name: str | None = None,
                 rootfs: str = "", namespaces: list | None = None, systemd: bool = False, owner: str = ""):
        self.id, self.pid, self.bundle, self.rootfs = id, pid, bundle, rootfs
        self.cgroup_doc = cgroup  # Cgroup.to_dict(); `cgroup` builds the object on demand
        self.annotations = annotations or {}
        self.created, self.start_time = created, start_time
        self.upper_root = upper_root  # directory holding this container's writable layer, removed on delete
        self.upper, self.stubs, self.name = upper, stubs or [], name
        self.namespaces = namespaces or []  # runtime-spec namespace types the container has (not the host's)
        self.systemd, self.owner = systemd, owner

    @property
    def state_dir(self) -> str:
        return f"{STATE_ROOT}/{self.id}"

    @property
    def fifo(self) -> str:
        return f"{self.state_dir}/exec.fifo"

    @property
    def cgroup(self):  # -> cgroupfs.Cgroup (imported only by the verbs that act on cgroups)
        from .cgroupfs import Cgroup

        return Cgroup.from_dict(self.cgroup_doc)

    # -- persistence -----------------------------------------------------------------------------
    def save(self) -> None:
        """Write state.json atomically (temp file + rename, as runc's saveState)."""
        doc = {k: getattr(self, k) for k in self.FIELDS if k != "cgroup"}
        doc["cgroup"] = self.cgroup_doc
        tmp = f"{self.state_dir}/.state.json.tmp"
        with open(tmp, "w") as f:
            f.write(jsonfast.dumps(doc))
        os.replace(tmp, f"{self.state_dir}/state.json")

    @classmethod
    def load(cls, container_id: str) -> "Container":
        """The container with this id, or NotFoundError with runc's wording (callers match it)."""
        if not valid_id(container_id):
            raise NotFoundError(f"container {container_id!r} does not exist")
        try:
            with open(f"{STATE_ROOT}/{container_id}/state.json", "rb") as f:
                doc = jsonfast.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"container {container_id!r} does not exist") from None
        except (OSError, ValueError) as exc:
            raise RuntimeError_(f"container {container_id!r}: unreadable state: {exc}", 1) from None
        return cls(**{k: v for k, v in doc.items() if k in cls.FIELDS})

    def saved_spec(self) -> dict:
        """The config.json this container was created from ({} if it was not kept)."""
        try:
            with open(f"{self.state_dir}/config.json", "rb") as f:
                return jsonfast.loads(f.read())
        except (OSError, ValueError):
            return {}

    # -- status ----------------------------------------------------------------------------------
    def alive(self) -> bool:
        """The init still exists and is the same process (start time guards against pid reuse).

        A zombie counts as stopped: it is not reaped here, because its parent (a foreground monitor
        in this very process, perhaps) may be about to wait for it.
        """
        if self.pid <= 0:
            return False
        fields = proc_stat(self.pid)
        return len(fields) > 19 and fields[19] == self.start_time and fields[0] != "Z"

    def paused(self) -> bool:
        """Frozen by `pause`: v1 freezer.state, or v2 cgroup.freeze."""
        from .cgroupfs import frozen

        return frozen(self.cgroup_doc.get("dirs") or {})

    def status(self) -> str:
        """runtime-spec status: created (waiting on the FIFO), running, paused or stopped."""
        if not self.alive():
            return "stopped"
        if os.path.exists(self.fifo):
            return "created"
        return "paused" if self.paused() else "running"

    def state(self) -> dict:
        """The runtime-spec `state` document, with runc's extra keys (rootfs, created, owner)."""
        status = self.status()
        doc = {"ociVersion": OCI_VERSION, "id": self.id, "pid": self.pid if status != "stopped" else 0,
               "status": status, "bundle": self.bundle, "rootfs": self.rootfs, "created": rfc3339(self.created),
               "owner": self.owner}
        if self.annotations:
            doc["annotations"] = self.annotations
        return doc

    # -- operations ------------------------------------------------------------------------------
    def start(self) -> None:
        """Let a created container exec its process (opening the FIFO releases the blocked init)."""
        status = self.status()
        if status != "created":
            raise RuntimeError_("cannot start a container that has stopped" if status == "stopped"
                                else f"cannot start an already {status} container", 1)
        import select  # built in: costs `start` nothing measurable

        # the pidfd first: once the FIFO is open the init may exec, finish and be reaped by the
        # caller's subreaper before a later pidfd_open (containerd's shim did, under load: a
        # ProcessLookupError for a container that had run); held from here, it names that
        # process even after its end, and the byte it left in the FIFO still says it was released
        try:
            init = os.pidfd_open(self.pid)
        except ProcessLookupError:
            raise RuntimeError_("container process is already dead", 1) from None
        try:
            fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                # wait for the init's byte or its death (runc's awaitFifoOpen): a blocking open
                # would hang for ever on an init that died before reaching the FIFO
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                poller.register(init, select.POLLIN)
                while True:
                    ready = dict(poller.poll())
                    if fd in ready:
                        if os.read(fd, 1):
                            break
                        poller.unregister(fd)  # opened and closed without its byte: wait for its end
                    if init in ready:
                        raise RuntimeError_("container process is already dead", 1)
            finally:
                os.close(fd)
                try:
                    os.unlink(self.fifo)
                except FileNotFoundError:
                    pass
        finally:
            os.close(init)

    def _private_pid_namespace(self) -> bool:
        """Whether the container has a PID namespace of its own (not the host's, not joined)."""
        entries = (self.saved_spec().get("linux") or {}).get("namespaces")
        if entries is None:
            return "pid" in self.namespaces
        return any(ns.get("type") == "pid" and not ns.get("path") for ns in entries)

    def kill(self, sig: int = 15, all_processes: bool = False) -> None:
        """Send a signal to the init (or, with `all_processes`, every process in the cgroup).

        SIGKILL without a PID namespace of its own kills the whole cgroup, even once the init is
        gone (runc's Signal): only a namespace's PID 1 takes the others down with it.
        """
        if sig == 9 and not self._private_pid_namespace():
            cgroup = self.cgroup
            if not any(os.path.isdir(d) for d in cgroup.dirs.values()) and not self.alive():
                raise RuntimeError_("container not running", 1)
            cgroup.kill()
            return
        if self.status() == "stopped":
            if all_processes:
                return  # runc: --all only turns "not running" into success
            raise RuntimeError_("container not running", 1)
        for pid in self.cgroup.pids() if all_processes else [self.pid]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def delete(self, force: bool = False, warn=None) -> None:
        """runtime.md `delete`: a stopped or created container (runc kills the waiting init), any
        with `force`; idempotent cleanup, then the poststop hooks (a failure is only a warning,
        passed to `warn(message)`, stderr by default)."""
        status = self.status()
        if status not in ("stopped", "created") and not force:
            raise RuntimeError_(f"cannot delete container {self.id} that is not stopped: {status}", 1)
        spec = self.saved_spec()
        doc = dict(self.state(), status="stopped", pid=0)
        self.destroy()
        if (spec.get("hooks") or {}).get("poststop"):
            from . import hooks

            try:
                hooks.run(spec, "poststop", doc)
            except hooks.HookError as exc:
                if warn is None:
                    import sys

                    sys.stderr.write(f"imgtool: warning: {exc}\n")
                else:
                    warn(str(exc))

    def destroy(self) -> None:
        """Kill what is left, then remove cgroup, writable layer and state (idempotent)."""
        self.cgroup.destroy()
        if self.upper_root:
            import shutil  # only imgtool run's containers have one: runc's `delete` stays without it

            shutil.rmtree(self.upper_root, ignore_errors=True)
        remove_state_dir(self.state_dir)

    def remove_stubs(self) -> None:
        """Remove mount points the init had to create from the upper dir, so a RUN diff lacks them.

        Re-resolved in-root within the upper dir and only if still empty (BuildKit CVE-2024-23652).
        """
        import stat

        from .prune import prune
        from .resolve import Root

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
                    if (stat.S_ISDIR(st.st_mode) and not os.listdir(f"/proc/self/fd/{fd}/{base}")) or \
                       (stat.S_ISREG(st.st_mode) and st.st_size == 0):
                        prune(fd, base)
                except OSError:
                    pass
                finally:
                    os.close(fd)


def remove_state_dir(path: str) -> None:
    """Remove a state directory: flat (state.json, config.json, exec.fifo), so plain unlinks do;
    shutil (whose imports cost `delete` several milliseconds) only for anything else found."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        try:
            os.unlink(f"{path}/{name}")
        except IsADirectoryError:
            import shutil

            shutil.rmtree(f"{path}/{name}", ignore_errors=True)
        except OSError:
            pass  # as rmtree(ignore_errors=True): removal is best effort and idempotent
    try:
        os.rmdir(path)
    except OSError:
        pass


def list_containers() -> list[Container]:
    """Every container with state under the state root, by id."""
    try:
        names = sorted(os.listdir(STATE_ROOT))
    except OSError:
        return []
    out = []
    for name in names:
        try:
            out.append(Container.load(name))
        except ImgtoolError:
            continue
    return out
