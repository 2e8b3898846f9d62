"""Named volumes (docker's local driver): `<root>/volumes/<name>/_data`, kept until `volume rm`.

Why a directory per volume under the store root: a volume must survive the containers that use it
and be found by name by the next one; the store root is the one place imgtool owns that persists.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from imgtool import atomicfile
from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.store import Store

from . import record
from .logs import timestamp

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")  # \Z: $ also matches before a final newline


@dataclass(frozen=True)
class Volume:
    """One named volume."""

    name: str
    mountpoint: Path
    created: str
    anonymous: bool = False


def volumes_dir(store: Store) -> Path:
    """Where volumes live."""
    return store.path / "volumes"


def check_name(name: str) -> str:
    """docker's local-driver name rule and messages."""
    if len(name) < 2:
        raise ImgtoolError("volume name is too short, names should be at least two alphanumeric characters")
    if not _NAME.match(name):
        raise ImgtoolError(f'"{name}" includes invalid characters for a local volume name, only '
                           '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                           "use absolute path")
    return name


def get(store: Store, name: str) -> Volume:
    """An existing volume, or docker's `no such volume`."""
    d = volumes_dir(store) / name
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        raise NotFoundError(f"get {name}: no such volume") from None
    return Volume(name, d / "_data", meta.get("created", ""), bool(meta.get("anonymous")))


def create(store: Store, name: str, anonymous: bool = False) -> Volume:
    """Create the volume (idempotent, as `docker volume create` of an existing name)."""
    check_name(name)
    d = volumes_dir(store) / name
    if (d / "meta.json").exists():
        return get(store, name)
    (d / "_data").mkdir(parents=True, exist_ok=True, mode=0o755)
    atomicfile.write_bytes(d / "meta.json", json.dumps({"created": timestamp(), "anonymous": anonymous}).encode())
    return get(store, name)


def list_volumes(store: Store) -> list[Volume]:
    """Every volume, by name."""
    root = volumes_dir(store)
    out = []
    for d in sorted(root.iterdir()) if root.is_dir() else ():
        try:
            out.append(get(store, d.name))
        except NotFoundError:
            continue
    return out


def users(store: Store, name: str) -> list[str]:
    """IDs of containers (any state) whose mounts name this volume."""
    return [r.id for r in record.all_records(store)
            if any(m.get("type") == "volume" and m.get("source") == name for m in r.config.mounts)]


def remove(store: Store, name: str, force: bool = False) -> None:
    """Delete a volume no container uses (docker: `volume is in use - [ids]`)."""
    get(store, name)
    using = users(store, name)
    if using and not force:
        raise ImgtoolError(f"remove {name}: volume is in use - [{', '.join(using)}]")
    shutil.rmtree(volumes_dir(store) / name)
