"""An image's final file tree, read from a `docker save` archive with nothing but tarfile.

Both builders' results go through this one reader (imgtool's image via `imgtool save --format
docker`, docker's via `docker save`), so the comparison does not trust imgtool's own applier.
Layers are applied in order with OCI whiteouts; every entry keeps what the acceptance test compares:
type, mode (with setuid/setgid/sticky), owner, content digest, symlink target, and which paths
share an inode (hardlinks). Timestamps are left out on purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import posixpath
import tarfile
from pathlib import Path

HEAD = 200  # files up to this size show their bytes in a difference

TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
         tarfile.FIFOTYPE: "fifo"}


@dataclasses.dataclass(frozen=True)
class Entry:
    type: str
    mode: int
    uid: int
    gid: int
    sha256: str | None = None
    target: str | None = None
    # the start of a small file's bytes, only to show in a difference (never compared)
    head: bytes | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass
class Image:
    tree: dict[str, Entry]
    hardlinks: set[frozenset[str]]
    config: dict
    layers: list[bytes]  # raw layer tars, for "this secret is in no layer" checks


def _clean(name: str) -> str:
    path = posixpath.normpath("/" + name)
    return "" if path == "/" else path[1:]


def _drop(tree: dict[str, Entry], inode: dict[str, int], path: str, children_only: bool = False) -> None:
    prefix = path + "/" if path else ""
    for p in [p for p in tree if p.startswith(prefix) or (p == path and not children_only)]:
        tree.pop(p)
        inode.pop(p, None)


def _apply(tree: dict[str, Entry], inode: dict[str, int], blob: bytes, next_inode: list[int]) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        members = tar.getmembers()
        # whiteouts first: they hide what the lower layers had, never this layer's own entries
        for m in members:
            name = _clean(m.name)
            parent, base = posixpath.split(name)
            if base == ".wh..wh..opq":
                _drop(tree, inode, parent, children_only=True)
            elif base.startswith(".wh."):
                _drop(tree, inode, posixpath.join(parent, base[4:]))
        for m in members:
            name = _clean(m.name)
            if posixpath.basename(name).startswith(".wh.") or not name:
                continue
            old = tree.get(name)
            if old is not None and not (old.type == "dir" and m.isdir()):
                _drop(tree, inode, name)
            if m.islnk():
                src = _clean(m.linkname)
                tree[name] = tree[src]
                inode[name] = inode[src]
                continue
            kind = TYPES.get(m.type)
            if kind is None:
                raise ValueError(f"unexpected tar member type {m.type!r} for {name}")
            data = tar.extractfile(m).read() if kind == "file" else None
            digest = hashlib.sha256(data).hexdigest() if data is not None else None
            tree[name] = Entry(kind, m.mode & 0o7777, m.uid, m.gid, digest, m.linkname if m.issym() else None,
                               data[:HEAD] if data is not None and len(data) <= HEAD else None)
            if kind == "file":
                next_inode[0] += 1
                inode[name] = next_inode[0]


def read_archive(path: Path) -> Image:
    """The flattened image of the single image in a docker-save archive at `path`."""
    with tarfile.open(path) as outer:
        [manifest] = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest["Config"]))
        layers = [outer.extractfile(name).read() for name in manifest["Layers"]]
    tree: dict[str, Entry] = {}
    inode: dict[str, int] = {}
    counter = [0]
    for blob in layers:
        _apply(tree, inode, blob, counter)
    groups: dict[int, set[str]] = {}
    for p, i in inode.items():
        groups.setdefault(i, set()).add(p)
    return Image(tree, {frozenset(g) for g in groups.values() if len(g) > 1}, config, layers)


CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
               "StopSignal", "Healthcheck", "OnBuild", "Shell")


def config_view(config: dict) -> dict:
    """The compared part of an image config: empty values (null, [], {}, "") are one value."""
    c = config.get("config") or {}
    return {k: (c.get(k) or None) for k in CONFIG_KEYS}


def history_view(config: dict) -> list[tuple[str, bool]]:
    """(created_by, empty_layer) for each history entry."""
    return [(h.get("created_by", ""), bool(h.get("empty_layer"))) for h in config.get("history", [])]


def _show(field: str, entry: Entry) -> str:
    value = getattr(entry, field)
    if field == "sha256" and entry.head is not None:
        return repr(entry.head)  # a small file's bytes say more than its digest
    return f"{value:04o}" if field == "mode" else repr(value)


def tree_diff(ours: dict[str, Entry], theirs: dict[str, Entry]) -> list[str]:
    """Human-readable differences, one line per path (empty when the trees are the same)."""
    out = []
    for p in sorted(set(ours) | set(theirs)):
        a, b = ours.get(p), theirs.get(p)
        if a == b:
            continue
        if a is None:
            out.append(f"only in docker: /{p} {b.type} {b.mode:04o} {b.uid}:{b.gid}")
        elif b is None:
            out.append(f"only in imgtool: /{p} {a.type} {a.mode:04o} {a.uid}:{a.gid}")
        else:
            fields = [f"{f.name} imgtool={_show(f.name, a)} docker={_show(f.name, b)}"
                      for f in dataclasses.fields(Entry) if f.compare and getattr(a, f.name) != getattr(b, f.name)]
            out.append(f"/{p}: " + ", ".join(fields))
    return out
