"""`-v SRC:DST[:MODE]` and `--mount k=v,...`: docker's grammar and messages, to runtime-spec mounts.

A parsed mount is a small dict kept in the container's config (type bind|volume|tmpfs, source,
target, readonly, tmpfs options), turned into config.json mounts at each start, so a named volume
is looked up again on `restart` and a bind source that vanished is reported then.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from imgtool.errors import ImgtoolError
from imgtool.runtime.resources import parse_size
from imgtool.store import Store

from . import names, volumes

_MODES = {"ro", "rw", "z", "Z", "private", "rprivate", "slave", "rslave", "shared", "rshared", "nocopy",
          "consistent", "cached", "delegated"}
_TRUE, _FALSE = ("", "1", "true"), ("0", "false")


def _target(dst: str, spec: str) -> str:
    if not dst.startswith("/"):
        raise ImgtoolError(f"invalid mount path: '{dst}' mount path must be absolute")
    dst = posixpath.normpath(dst)
    if dst == "/":
        raise ImgtoolError("invalid specification: destination can't be '/'")
    return dst


def parse_volume(spec: str) -> dict[str, Any]:
    """One `-v`: absolute SRC = bind (created as a directory if missing), else a named volume."""
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts):
        raise ImgtoolError(f"invalid volume specification: '{spec}'")
    if len(parts) == 1:
        return {"type": "volume", "source": "", "target": _target(parts[0], spec), "readonly": False}
    if len(parts) == 2 and set(parts[1].split(",")) <= _MODES:
        raise ImgtoolError(f"invalid volume specification: '{spec}'")
    src, dst, mode = parts[0], parts[1], parts[2] if len(parts) == 3 else "rw"
    for m in mode.split(","):
        if m not in _MODES:
            raise ImgtoolError(f"invalid mode: {mode}")
    readonly = "ro" in mode.split(",")
    target = _target(dst, spec)
    if src.startswith("."):
        src = os.path.abspath(src)
    if src.startswith("/"):
        return {"type": "bind", "source": os.path.normpath(src), "target": target, "readonly": readonly,
                "create_source": True}
    volumes.check_name(src)
    return {"type": "volume", "source": src, "target": target, "readonly": readonly}


def parse_mount(spec: str) -> dict[str, Any]:
    """One `--mount type=bind|volume|tmpfs,source=,target=,readonly,tmpfs-size=,tmpfs-mode=`."""
    out: dict[str, Any] = {"type": "volume", "source": "", "target": "", "readonly": False}
    for field in spec.split(","):
        key, sep, value = field.partition("=")
        if key != key.strip() or value != value.strip():
            raise ImgtoolError(f"invalid field '{field}' must be a key=value pair")
        key = key.lower()
        if key in ("readonly", "ro"):
            if value.lower() not in _TRUE + _FALSE:
                raise ImgtoolError(f"invalid value for {key}: {value}")
            out["readonly"] = value.lower() in _TRUE
            continue
        if not sep:
            raise ImgtoolError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            if value not in ("bind", "volume", "tmpfs"):
                raise ImgtoolError(f"invalid mount type: {value!r} (bind, volume or tmpfs)")
            out["type"] = value
        elif key in ("source", "src"):
            out["source"] = value
        elif key in ("target", "dst", "destination"):
            out["target"] = value
        elif key == "tmpfs-size":
            out["tmpfs_size"] = parse_size(value, "--mount")
        elif key == "tmpfs-mode":
            try:
                out["tmpfs_mode"] = int(value, 8)
            except ValueError:
                raise ImgtoolError(f"invalid tmpfs-mode: {value}") from None
        elif key in ("bind-propagation", "consistency", "volume-nocopy", "bind-recursive"):
            continue
        else:
            raise ImgtoolError(f"unknown option '{key}' in '{field}'")
    kind = out["type"]
    if not out["target"]:
        raise ImgtoolError(f'invalid mount config for type "{kind}": field Target must not be empty')
    out["target"] = _target(out["target"], spec)
    if kind == "bind":
        if not out["source"]:
            raise ImgtoolError(f'invalid mount config for type "bind": field Source must not be empty')
        if not os.path.exists(out["source"]):
            raise ImgtoolError(f'invalid mount config for type "bind": bind source path does not exist: {out["source"]}')
        out["source"] = os.path.abspath(out["source"])
    elif kind == "tmpfs" and out["source"]:
        raise ImgtoolError('invalid mount config for type "tmpfs": field Source must be empty')
    elif kind == "volume" and out["source"]:
        volumes.check_name(out["source"])
    return out


def prepare(store: Store, mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Before create: named volumes made (anonymous ones named), -v bind sources made as docker does."""
    out = []
    for m in mounts:
        m = dict(m)
        if m["type"] == "volume":
            if not m["source"]:
                m["source"], m["anonymous"] = names.new_id(), True
            volumes.create(store, m["source"], anonymous=bool(m.get("anonymous")))
        elif m["type"] == "bind" and m.pop("create_source", False) and not os.path.exists(m["source"]):
            os.makedirs(m["source"], mode=0o755)
        out.append(m)
    return out


def to_spec(store: Store, mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """config.json mounts for a start: binds (volumes are binds of their `_data`) and tmpfs."""
    out = []
    for m in mounts:
        if m["type"] == "tmpfs":
            opts = ["nosuid", "nodev", "noexec"]
            if m.get("tmpfs_size"):
                opts.append(f"size={m['tmpfs_size']}")
            if m.get("tmpfs_mode") is not None:
                opts.append(f"mode={m['tmpfs_mode']:o}")
            out.append({"destination": m["target"], "type": "tmpfs", "source": "tmpfs",
                        "options": opts + (["ro"] if m["readonly"] else [])})
            continue
        source = str(volumes.get(store, m["source"]).mountpoint) if m["type"] == "volume" else m["source"]
        if not os.path.exists(source):
            raise ImgtoolError(f"bind source path does not exist: {source}")
        out.append({"destination": m["target"], "type": "bind", "source": source,
                    "options": ["rbind", "ro" if m["readonly"] else "rw"]})
    return out
