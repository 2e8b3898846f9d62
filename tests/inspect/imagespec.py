"""Build test images layer by layer through the store's mutate API: files, directories, whiteouts
and opaque markers exactly as a test wants them (including what a builder would never emit)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field

from imgtool.layer import entries
from imgtool.layer.tarheader import Header
from imgtool.oci.config import ContainerConfig, History, ImageConfig
from imgtool.store import mutate


@dataclass
class Step:
    """One history entry; `members` None means an empty layer (ENV, ARG, LABEL...)."""

    created_by: str
    members: list | None = None


@dataclass
class Spec:
    """A whole image: steps base first, plus the final config's Env and Labels."""

    steps: list[Step] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def layer(self, created_by: str, *members) -> int:
        """Append a layer step; returns its layer index."""
        self.steps.append(Step(created_by, list(members)))
        return sum(1 for s in self.steps if s.members is not None) - 1

    def meta(self, created_by: str) -> int:
        """Append an empty-layer step; returns its history index."""
        self.steps.append(Step(created_by))
        return len(self.steps) - 1


def file(path: str, data: bytes | str, mode: int = 0o644):
    """A regular file member."""
    return ("file", path.lstrip("/"), data.encode() if isinstance(data, str) else data, mode)


def directory(path: str):
    """A directory member."""
    return ("dir", path.lstrip("/"), b"", 0o755)


def whiteout(path: str):
    """`.wh.` marker deleting path."""
    return ("wh", path.lstrip("/"), b"", 0)


def opaque(path: str):
    """`.wh..wh..opq` marker in directory path."""
    return ("opq", path.lstrip("/"), b"", 0)


def _entry(member) -> entries.Entry:
    kind, path, data, mode = member
    if kind == "dir":
        return entries.Entry(Header(path, type=tarfile.DIRTYPE, mode=mode))
    if kind == "wh":
        return entries.whiteout_entry(path)
    if kind == "opq":
        return entries.opaque_entry(path)
    return entries.Entry(Header(path, mode=mode, size=len(data)), open=lambda d=data: io.BytesIO(d))


def build(store, spec: Spec, name: str) -> None:
    """Write the image into the store under `name`."""
    image = mutate.PendingImage(ImageConfig(
        architecture="amd64", os="linux", created="2026-01-01T00:00:00Z",
        config=ContainerConfig(env=tuple(spec.env) or None, labels=spec.labels or None)))
    for step in spec.steps:
        history = History(created="2026-01-01T00:00:00Z", created_by=step.created_by)
        layer = None if step.members is None else mutate.add_layer(store, [_entry(m) for m in step.members], epoch=0)
        image = image.append(layer, history)
    image.write(store, [name])
