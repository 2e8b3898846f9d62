"""linux.namespaces: which to create, which to join by path (a pod's netns/ipc/uts), and how.

Why fds opened by the parent: a path like /var/run/netns/cni-... or /proc/<pause>/ns/net is a host
path, so it is opened before the child changes anything; the child joins with setns(2) on the fd,
user namespace first (the others are owned by it), mount namespace last (nothing is resolved by
path after it). A PID namespace only applies to children, so the parent joins (or creates) it
around its fork, and the child is born inside (`syscalls.fork_in_pid_namespace`).

With a user namespace (new or joined) that order would leave the PID namespace owned by the host's
user namespace, where the container's root is nobody: /proc could not be mounted. So then the init
makes every namespace itself, user first (runc's nsexec stage 1), and a CLONE_PARENT clone of it
becomes PID 1 (`enter_owned`).
"""

from __future__ import annotations

import fcntl
import os

from . import syscalls

FLAGS = {"pid": syscalls.CLONE_NEWPID, "network": syscalls.CLONE_NEWNET, "mount": syscalls.CLONE_NEWNS,
         "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS, "cgroup": syscalls.CLONE_NEWCGROUP,
         "user": syscalls.CLONE_NEWUSER, "time": syscalls.CLONE_NEWTIME}
PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "cgroup": "cgroup",
             "user": "user", "time": "time"}
_JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "time", "pid", "mount")
_NS_GET_NSTYPE = 0xB703


class NamespaceError(Exception):
    """A namespace entry that cannot be honoured (message names the field)."""


class Namespaces:
    """The container's namespaces: `new` CLONE_* flags to unshare, `joins` (type, fd) to setns."""

    def __init__(self, new: int, joins: list[tuple[str, int]], kinds: list[str],
                 user_maps: tuple[str, str] | None = None, time_offsets: str = ""):
        self.new, self.joins, self.kinds = new, joins, kinds
        self.user_maps = user_maps  # (uid_map, gid_map) for a new user namespace, written by the parent
        self.time_offsets = time_offsets  # linux.timeOffsets as /proc/self/timens_offsets lines

    def _unshare(self, flags: int) -> None:
        """unshare(2); a new time namespace only takes children, so its offsets are written first
        (allowed until a process is in it) and then this process enters it through
        /proc/self/ns/time_for_children (time_namespaces(7))."""
        syscalls.unshare(flags)
        if not flags & syscalls.CLONE_NEWTIME:
            return
        syscalls.prctl(syscalls.PR_SET_DUMPABLE, 1)  # else our /proc/self is the unmapped host root's
        try:
            if self.time_offsets:
                with open("/proc/self/timens_offsets", "w") as f:
                    f.write(self.time_offsets)
            fd = os.open("/proc/self/ns/time_for_children", os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, syscalls.CLONE_NEWTIME)
            finally:
                os.close(fd)
        finally:
            syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)

    @property
    def has_user(self) -> bool:
        """Whether the container gets a user namespace (new or joined): the init then makes the rest."""
        return "user" in self.kinds

    @property
    def pid_fd(self) -> int | None:
        return next((fd for kind, fd in self.joins if kind == "pid"), None)

    def enter(self) -> None:
        """In the child: setns into every joined namespace but pid (already done), then unshare the
        new ones except pid."""
        self._join_around_user(skip="pid")
        if self.new & ~syscalls.CLONE_NEWPID:
            self._unshare(self.new & ~syscalls.CLONE_NEWPID)

    def enter_owned(self, request_maps) -> bool:
        """In the init, with a user namespace: join the given namespaces (`_join_around_user`),
        unshare the new user namespace and have the parent map it (`request_maps()` returns once
        it has), become root of the new or joined one, then unshare the rest. Returns whether a PID
        namespace is involved, so that only a child of ours can be the container's PID 1 (the
        caller clones it with CLONE_PARENT, as runc's stage 2)."""
        self._join_around_user()
        if self.new & syscalls.CLONE_NEWUSER:
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            syscalls.prctl(syscalls.PR_SET_DUMPABLE, 1)  # the parent writes our /proc/PID/uid_map
            request_maps()
            syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
        os.setresgid(0, 0, 0)  # root of the (new or joined) namespace: host root is unmapped there
        os.setresuid(0, 0, 0)
        rest = self.new & ~syscalls.CLONE_NEWUSER
        if rest:
            self._unshare(rest)
        return bool(rest & syscalls.CLONE_NEWPID) or self.pid_fd is not None

    def _join_around_user(self, skip: str = "") -> None:
        """runc's nsexec order: every namespace but user while still host root (one the container's
        user namespace does not own, such as a host-made netns, is only joinable then), then user,
        then those that refused with EPERM (a namespace owned by that user namespace)."""
        joins = sorted((j for j in self.joins if j[0] != skip), key=lambda j: _JOIN_ORDER.index(j[0]))
        refused = []
        for kind, fd in joins:
            if kind != "user":
                try:
                    syscalls.setns(fd, FLAGS[kind])
                except PermissionError:
                    refused.append((kind, fd))
        for kind, fd in [j for j in joins if j[0] == "user"] + refused:
            syscalls.setns(fd, FLAGS[kind])

    def close(self) -> None:
        """Close the namespace fds (the parent, once the child has them)."""
        for _, fd in self.joins:
            os.close(fd)
        self.joins = []


def from_spec(linux: dict) -> Namespaces:
    """Validate linux.namespaces (and the user namespace's mappings) and open the paths to join
    (runtime-spec config-linux.md)."""
    from . import userns

    new, joins, kinds = 0, [], []
    entries = linux.get("namespaces")
    try:
        for i, ns in enumerate(entries or []):
            kind, path = ns.get("type"), ns.get("path")
            if kind not in FLAGS:
                raise NamespaceError(f"linux.namespaces[{i}]: namespace {kind!r} does not exist")
            if kind in kinds:
                raise NamespaceError(f"linux.namespaces[{i}]: malformed spec file: duplicated ns {kind!r}")
            kinds.append(kind)
            if not path:
                new |= FLAGS[kind]
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise NamespaceError(f"linux.namespaces[{i}]: cannot open {kind} namespace {path}: {exc.strerror}") from None
            joins.append((kind, fd))
            try:
                actual = fcntl.ioctl(fd, _NS_GET_NSTYPE)
            except OSError:
                actual = -1
            if actual != FLAGS[kind]:
                raise NamespaceError(f"linux.namespaces[{i}]: {path} is not a {kind} namespace")
        user_path = next((ns.get("path") for ns in entries or [] if ns.get("type") == "user"), None)
        try:
            maps = userns.parse(linux, "user" in kinds, user_path)
        except (userns.MappingError, OSError) as exc:
            raise NamespaceError(str(exc)) from None
        offsets = _time_offsets(linux.get("timeOffsets"), bool(new & syscalls.CLONE_NEWTIME))
    except BaseException:
        Namespaces(0, joins, kinds).close()
        raise
    return Namespaces(new, joins, kinds, maps, offsets)


def _time_offsets(given: dict | None, new_time: bool) -> str:
    """linux.timeOffsets as timens_offsets lines; only a new time namespace can take them (runc's
    rule: a joined one already has its offsets)."""
    if not given:
        return ""
    if not new_time:
        raise NamespaceError("linux.timeOffsets needs a new time namespace (linux.namespaces type time, no path)")
    lines = []
    for clock, value in given.items():
        if clock not in ("monotonic", "boottime") or not isinstance(value, dict):
            raise NamespaceError(f"linux.timeOffsets: unknown clock {clock!r} (monotonic or boottime)")
        try:
            lines.append(f"{clock} {int(value.get('secs', 0))} {int(value.get('nanosecs', 0))}\n")
        except (TypeError, ValueError):
            raise NamespaceError(f"linux.timeOffsets.{clock}: secs and nanosecs must be integers") from None
    return "".join(lines)


def of_process(pid: int, kinds: list[str]) -> Namespaces:
    """Join every namespace a running container has (for exec): /proc/PID/ns/<kind>."""
    joins = []
    try:
        for kind in kinds:
            joins.append((kind, os.open(f"/proc/{pid}/ns/{PROC_NAME[kind]}", os.O_RDONLY | os.O_CLOEXEC)))
    except OSError as exc:
        Namespaces(0, joins, kinds).close()
        raise NamespaceError(f"cannot open the container's namespaces: {exc.strerror}") from None
    return Namespaces(0, joins, kinds)
