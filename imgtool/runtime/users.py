"""`USER` resolution against the container's own /etc/passwd and /etc/group, read in-root.

Why in-root: joining the rootfs path with "etc/passwd" follows an image's `etc/passwd -> /etc/shadow`
symlink to the *host* file (containerd's 2025-26 fixes; test R4). Semantics are runc's
GetExecUser: numeric ids need no entry, names must exist, supplementary groups come from
/etc/group membership when no group was given.
"""

from __future__ import annotations

import os
import stat
from dataclasses import field
from pathlib import Path

from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen

from .resolve import Root


class UserError(ImgtoolError):
    """A USER that the image's passwd/group files cannot resolve."""

    exit_code = 125


@frozen
class ExecUser:
    """What process.user and HOME become."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"
    name: str | None = field(default=None, compare=False)


def docker_groups(user: ExecUser) -> tuple[int, ...]:
    """Supplementary groups of `docker run` and `docker exec`: the primary gid first, then the
    memberships (moby's getUser adds it, so `id` shows `groups=0(root)`). runc and BuildKit's RUN
    keep the memberships only (`ExecUser.additional_gids`)."""
    return (user.gid, *(g for g in user.additional_gids if g != user.gid))


def _read(root: Root, rel: str) -> list[list[str]]:
    """The file's rows; a hostile image's FIFO or device there counts as absent (never blocks), and
    only its first 4 MiB are read."""
    try:
        fd = root.open_file(rel, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = f.read(4 << 20)
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def numeric_id(text: str) -> int | None:
    """`text` as a uid or gid, None when it is a name: digits that fit 32 bits (a longer number is
    looked up as a name, as Go's strconv.ParseUint(text, 10, 32) failing sends BuildKit and runc)."""
    return int(text) if text.isdigit() and int(text) < 1 << 32 else None


def lookup(rootfs: str | Path, spec: str | None) -> ExecUser:
    """Resolve `user[:group]` (names or numbers) the way runc does, reading files in-root."""
    spec = spec or "0"
    user, _, group = spec.partition(":")
    user = user or "0"
    with Root(rootfs) as root:
        passwd = [r for r in _read(root, "etc/passwd") if len(r) >= 7]
        groups = [r for r in _read(root, "etc/group") if len(r) >= 4]
    entry = next((r for r in passwd if r[0] == user or (numeric_id(user) is not None and numeric_id(r[2]) == numeric_id(user))), None)
    if entry is None and numeric_id(user) is None:
        raise UserError(f"unable to find user {user}: no matching entries in passwd file")
    uid = numeric_id(user) if numeric_id(user) is not None else int(entry[2])  # type: ignore[index]
    gid = int(entry[3]) if entry is not None and numeric_id(entry[3]) is not None else 0
    home = entry[5] if entry is not None and entry[5] else "/"
    name = entry[0] if entry is not None else None
    extra: tuple[int, ...] = ()
    if group:
        if numeric_id(group) is not None:
            gid = int(group)
        else:
            g = next((r for r in groups if r[0] == group), None)
            if g is None:
                raise UserError(f"unable to find group {group}: no matching entries in group file")
            gid = int(g[2])
    elif name is not None:
        extra = tuple(sorted({int(r[2]) for r in groups if name in r[3].split(",") and numeric_id(r[2]) is not None} - {gid}))
    return ExecUser(uid, gid, extra, home, name)
