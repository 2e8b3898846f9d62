"""linux.namespaces: which to create, which to join by path (a pod's netns/ipc/uts), and how.

Why fds opened by the parent: a path like /var/run/netns/cni-... or /proc/<pause>/ns/net is a host
path, so it is opened before the child changes anything; the child joins with setns(2) on the fd,
user namespace first (the others are owned by it), mount namespace last (nothing is resolved by
path after it). A PID namespace only applies to children, so the parent joins (or creates) it
around its fork, and the child is born inside (`syscalls.fork_in_pid_namespace`).
"""

from __future__ import annotations

import fcntl
import os

from . import syscalls

FLAGS = {"pid": syscalls.CLONE_NEWPID, "network": syscalls.CLONE_NEWNET, "mount": syscalls.CLONE_NEWNS,
         "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS, "cgroup": syscalls.CLONE_NEWCGROUP,
         "user": syscalls.CLONE_NEWUSER}
PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "cgroup": "cgroup",
             "user": "user"}
_JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "pid", "mount")
_NS_GET_NSTYPE = 0xB703


class NamespaceError(Exception):
    """A namespace entry that cannot be honoured (message names the field)."""


class Namespaces:
    """The container's namespaces: `new` CLONE_* flags to unshare, `joins` (type, fd) to setns."""

    def __init__(self, new: int, joins: list[tuple[str, int]], kinds: list[str]):
        self.new, self.joins, self.kinds = new, joins, kinds

    @property
    def pid_fd(self) -> int | None:
        return next((fd for kind, fd in self.joins if kind == "pid"), None)

    def enter(self) -> None:
        """In the child: setns into every joined namespace but pid (already done), then unshare the
        new ones except pid."""
        for kind, fd in sorted(self.joins, key=lambda j: _JOIN_ORDER.index(j[0])):
            if kind != "pid":
                syscalls.setns(fd, FLAGS[kind])
        if self.new & ~syscalls.CLONE_NEWPID:
            syscalls.unshare(self.new & ~syscalls.CLONE_NEWPID)

    def close(self) -> None:
        """Close the namespace fds (the parent, once the child has them)."""
        for _, fd in self.joins:
            os.close(fd)
        self.joins = []


def from_spec(entries: list[dict] | None) -> Namespaces:
    """Validate linux.namespaces and open the paths to join (runtime-spec config-linux.md)."""
    new, joins, kinds = 0, [], []
    try:
        for i, ns in enumerate(entries or []):
            kind, path = ns.get("type"), ns.get("path")
            if kind not in FLAGS:
                raise NamespaceError(f"linux.namespaces[{i}]: namespace {kind!r} is not supported"
                                     if kind == "time" else f"linux.namespaces[{i}]: namespace {kind!r} does not exist")
            if kind in kinds:
                raise NamespaceError(f"linux.namespaces[{i}]: malformed spec file: duplicated ns {kind!r}")
            kinds.append(kind)
            if kind == "user":
                raise NamespaceError(f"linux.namespaces[{i}]: user namespaces are not supported by imgtool's runtime")
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
    except BaseException:
        Namespaces(0, joins, kinds).close()
        raise
    return Namespaces(new, joins, kinds)


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
