"""User namespaces: `linux.uidMappings`/`gidMappings`, checked, and written for a new namespace.

Why the parent writes the maps: a process in a fresh user namespace holds no capability in its
parent namespace, so it cannot map host IDs to itself (user_namespaces(7)); as runc's nsexec does,
the init unshares CLONE_NEWUSER, asks the runtime over the report pipe, and the runtime, still
root in the host's namespace, writes /proc/PID/uid_map and gid_map. `setgroups` is left "allow"
when the runtime is root (runc's rule: only a rootless runtime must write "deny" before gid_map,
CVE-2014-8989), so the container's root can still set supplementary groups it owns.

The other namespaces are created after the user namespace so that it owns them: proc, sysfs and
mqueue can only be mounted by a process privileged over the PID, network and IPC namespace they
show, and the container's root is privileged only over namespaces its user namespace owns.
"""

from __future__ import annotations

import os

from . import syscalls

_MAX_ID = 1 << 32


class MappingError(Exception):
    """Mappings that cannot be applied (the message names the field, runc's wording)."""


def parse(linux: dict, user_kind: bool, user_path: str | None) -> tuple[str, str] | None:
    """The uid_map and gid_map texts for a new user namespace, None when none is made.

    runc's rules (libcontainer/configs/validate, specconv): mappings need a user namespace; a new
    one needs mappings; joining one by path takes its own mappings, so given ones must match it.
    """
    uids, gids = linux.get("uidMappings"), linux.get("gidMappings")
    if not user_kind:
        if uids or gids:
            raise MappingError("linux.uidMappings: user namespace mappings specified, but user namespace "
                               "isn't enabled in the config")
        return None
    texts = _text("linux.uidMappings", uids), _text("linux.gidMappings", gids)
    if user_path:
        if (uids or gids) and texts != current(user_path):
            raise MappingError("linux.uidMappings: user namespaces enabled, but both namespace path and "
                               "non-matching mapping specified -- you may only provide one")
        return None
    if not uids and not gids:
        raise MappingError("linux.namespaces: user namespaces enabled, but no namespace path to join nor "
                           "mappings to apply specified")
    return texts


def _text(field: str, mappings: list | None) -> str:
    """The /proc/PID/*_map text of one mapping list, each entry checked to be three IDs in range."""
    if mappings is None:
        return ""
    if not isinstance(mappings, list):
        raise MappingError(f"{field} must be an array")
    lines = []
    for i, m in enumerate(mappings):
        try:
            ids = [m[k] for k in ("containerID", "hostID", "size")]
        except (KeyError, TypeError):
            raise MappingError(f"{field}[{i}] needs containerID, hostID and size") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _MAX_ID for v in ids) or not ids[2]:
            raise MappingError(f"{field}[{i}]: IDs must be integers in 0..4294967295 and size at least 1")
        if ids[0] + ids[2] > _MAX_ID or ids[1] + ids[2] > _MAX_ID:
            raise MappingError(f"{field}[{i}]: range ends past 4294967295")
        lines.append("%d %d %d\n" % tuple(ids))
    return "".join(lines)


def current(ns_path: str) -> tuple[str, str]:
    """The mappings of the user namespace at `ns_path` (normalised to `_text`'s form).

    The kernel shows a namespace's maps only through a process in it; /proc/PID/ns/user names one
    directly, any other path (a bind-mounted nsfd) is matched against the live processes' namespaces.
    """
    pid = _owner_pid(ns_path)
    out = []
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}") as f:
            out.append("".join("%d %d %d\n" % tuple(map(int, line.split())) for line in f if line.strip()))
    return out[0], out[1]


def _owner_pid(ns_path: str) -> str:
    st = os.stat(ns_path)
    parts = ns_path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "proc" and parts[2:] == ["ns", "user"]:
        return parts[1]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            pst = os.stat(f"/proc/{pid}/ns/user")
        except OSError:
            continue
        if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
            return pid
    raise MappingError(f"linux.namespaces: no process is in the user namespace {ns_path}")


def write_maps(pid: int, maps: tuple[str, str]) -> None:
    """Write the init's uid_map and gid_map (runc's stage-0 part), `setgroups` first when rootless."""
    uid_map, gid_map = maps
    try:
        if os.geteuid() != 0:
            _write(f"/proc/{pid}/setgroups", "deny")
        if uid_map:
            _write(f"/proc/{pid}/uid_map", uid_map)
        if gid_map:
            _write(f"/proc/{pid}/gid_map", gid_map)
    except OSError as exc:
        field = "linux.uidMappings" if "uid_map" in (exc.filename or "") else "linux.gidMappings"
        raise MappingError(f"{field}: cannot write {exc.filename}: {exc.strerror}") from None


def _write(path: str, text: str) -> None:
    """One write(2) per map file: the kernel takes a map only whole, in a single write."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    finally:
        os.close(fd)


def enter(fs, send, namespaces, go: int, pdeathsig: bool) -> None:
    """The init's side, runc's nsexec stages 1 and 2: bind sources cloned while still privileged on
    the host (`fs.open_bind_sources`), the namespaces made user-first (`Namespaces.enter_owned`),
    the parent asked for the maps over the report pipe (`send`) and answering on `go`, and, when
    a PID namespace is involved, a CLONE_PARENT child going on as the init. Whichever process is
    the init is announced ({"init": host pid}) before it reports anything else: the clone waits
    for the first stage to exit, so the announcement is always first on the pipe."""
    fs.open_bind_sources()

    def request_maps() -> None:
        send("userns", os.getpid())
        if os.read(go, 1) != b"u":
            os._exit(125)

    if not namespaces.enter_owned(request_maps):
        send("init", os.getpid())
        return
    hold_r, hold_w = os.pipe()
    child = syscalls.clone_parent()
    if child:
        send("init", child)
        os._exit(0)
    os.close(hold_w)
    os.read(hold_r, 1)  # EOF once the first stage has exited, its announcement sent
    os.close(hold_r)
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
    if pdeathsig:  # not inherited by a clone
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, 9)
