"""Where an image's bytes go: exact shipped-but-invisible bytes, and dive's efficiency numbers.

The exact figure is simple: every regular-file version a layer ships costs its size; the final
filesystem shows only the visible ones; the rest is split by why it is hidden (deleted, incl. by an
opaque directory, or overwritten). dive's figures are reproduced as dive computes them
(filetree/efficiency.go at d6c6919), quirks included, so CI thresholds carried over from `.dive-ci`
mean the same thing; docs/inspect.md explains where the two differ.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from .replay import DELETED, DELETED_OPAQUE, OVERWRITTEN, VISIBLE, LayerChanges, PathTree, Version, file_versions
from .walk import DIR, LayerMembers


@dataclass(frozen=True)
class WastedPath:
    """A path whose earlier copies still ship: how many, how many bytes, and which layers carry them."""

    path: str
    copies: int
    size: int
    layers: tuple[int, ...]
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class Waste:
    """The exact accounting: total = visible + deleted + overwritten."""

    total_bytes: int
    visible_bytes: int
    deleted_bytes: int
    overwritten_bytes: int
    paths: tuple[WastedPath, ...]

    @property
    def wasted_bytes(self) -> int:
        """Bytes shipped that no container of this image can see."""
        return self.deleted_bytes + self.overwritten_bytes


def exact_waste(changes: list[LayerChanges]) -> Waste:
    """Sum every file version by status; group the hidden ones by path, largest first."""
    totals = {VISIBLE: 0, DELETED: 0, DELETED_OPAQUE: 0, OVERWRITTEN: 0}
    hidden: dict[str, list[Version]] = defaultdict(list)
    for v in file_versions(changes):
        totals[v.status] += v.size
        if v.status != VISIBLE:
            hidden[v.path].append(v)
    paths = tuple(sorted(
        (WastedPath("/" + p, len(vs), sum(v.size for v in vs), tuple(v.layer for v in vs),
                    tuple(v.status for v in vs)) for p, vs in hidden.items()),
        key=lambda w: (-w.size, w.path)))
    return Waste(sum(totals.values()), totals[VISIBLE], totals[DELETED] + totals[DELETED_OPAQUE],
                 totals[OVERWRITTEN], paths)


def hidden_in_layer(layer: LayerChanges) -> tuple[int, int]:
    """(deleted, overwritten) bytes this layer ships that the final filesystem does not show."""
    deleted = sum(v.size for v in layer.versions if v.kind != DIR and v.status in (DELETED, DELETED_OPAQUE))
    overwritten = sum(v.size for v in layer.versions if v.kind != DIR and v.status == OVERWRITTEN)
    return deleted, overwritten


@dataclass(frozen=True)
class DiveFigures:
    """dive's Image Details: efficiency score, wasted bytes, user wasted percent, inefficient files."""

    size_bytes: int
    user_size_bytes: int
    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float
    inefficient: tuple[tuple[int, int, str], ...] = field(default=())   # (count, bytes, path)


def dive_figures(layers: list[LayerMembers]) -> DiveFigures:
    """dive's Efficiency(): leaf nodes of each layer tree; a whiteout of a directory costs the lower
    subtree's bytes; opaque markers ignored; every copy of a repeated path counts as waste."""
    stacked = PathTree()
    cumulative: dict[str, int] = defaultdict(int)
    minimum: dict[str, int] = {}
    count: dict[str, int] = defaultdict(int)
    sizes = []
    for layer in layers:
        sizes.append(sum(m.size for m in layer.members))
        nodes = {m.path: m for m in layer.members if m.kind != "opaque"}
        parents = set()
        for path in nodes:
            parent = posixpath.dirname(path)
            while parent and parent not in parents:
                parents.add(parent)
                parent = posixpath.dirname(parent)
        for path, m in nodes.items():
            if path in parents:
                continue
            size = _whiteout_size(stacked, path) if m.kind == "whiteout" else m.size
            cumulative[path] += size
            minimum[path] = size if path not in minimum else min(minimum[path], size)
            count[path] += 1
        for path, m in nodes.items():
            if m.kind == "whiteout":
                stacked.remove_subtree(path)
            else:
                stacked.add(Version(layer.index, path, m.kind, m.size))
    total_cum = sum(cumulative.values())
    efficiency = 1.0 if total_cum == 0 else sum(minimum.values()) / total_cum
    inefficient = tuple(sorted(((count[p], cumulative[p], "/" + p) for p in cumulative if count[p] >= 2),
                               key=lambda t: (-t[1], t[2])))
    wasted = sum(c for _, c, _ in inefficient)
    user_size = sum(sizes[1:])
    return DiveFigures(sum(sizes), user_size, efficiency, wasted, wasted / user_size if user_size else 0.0, inefficient)


def _whiteout_size(stacked: PathTree, path: str) -> int:
    below = list(stacked.descendants(path))
    own = stacked.live.get(path)
    if not below and (own is None or own.kind != DIR):
        return 0
    return sum(stacked.live[p].size for p in below if p in stacked.live) + (own.size if own else 0)
