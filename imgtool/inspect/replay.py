"""Replay layers with the OCI whiteout rules and give every file version its fate.

Per layer: opaque markers first, then plain whiteouts, each applied to the lower layers only, then
the additions (image-spec layer.md). A version is `visible` if the final filesystem shows it,
`overwritten` if a later layer put something else at its path (or replaced an ancestor directory by
a non-directory), `deleted` if a later `.wh.` removed it or an ancestor, `deleted-opaque` if an
ancestor was made opaque later; `removed_in` names the layer that hid it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .walk import DIR, FILE, LayerMembers

VISIBLE, OVERWRITTEN, DELETED, DELETED_OPAQUE = "visible", "overwritten", "deleted", "deleted-opaque"


@dataclass
class Version:
    """One path as one layer shipped it."""

    layer: int
    path: str
    kind: str
    size: int
    change: str = "A"              # A added, M modified (a lower version existed)
    status: str = VISIBLE
    removed_in: int | None = None


@dataclass
class LayerChanges:
    """What one layer did to the filesystem below it."""

    index: int
    compressed_size: int
    tar_size: int
    versions: list[Version] = field(default_factory=list)
    deleted_paths: list[str] = field(default_factory=list)   # whiteout targets and opaque dirs
    removed: list[Version] = field(default_factory=list)     # lower versions this layer hid

    @property
    def size(self) -> int:
        """Content bytes of regular files (dive's layer size, docker's within a few directory bytes)."""
        return sum(v.size for v in self.versions)

    def count(self, change: str) -> int:
        """Files (not directories) added (`A`) or modified (`M`) by this layer."""
        return sum(1 for v in self.versions if v.change == change and v.kind != DIR)


class PathTree:
    """Live paths with a child index, so removing a directory's subtree costs its size, not the image's."""

    def __init__(self) -> None:
        self.live: dict[str, Version] = {}
        self._children: dict[str, set[str]] = {}

    def _parent(self, path: str) -> str:
        return posixpath.dirname(path)

    def add(self, version: Version) -> None:
        """Make `version` the live one at its path (the caller hides what was there first)."""
        self.live[version.path] = version
        path = version.path
        while path:
            parent = self._parent(path)
            siblings = self._children.setdefault(parent, set())
            if path in siblings:
                break
            siblings.add(path)
            path = parent

    def descendants(self, path: str) -> Iterator[str]:
        """Live paths strictly below `path` ("" is the root)."""
        stack = list(self._children.get(path, ()))
        while stack:
            p = stack.pop()
            yield p
            stack.extend(self._children.get(p, ()))

    def remove_subtree(self, path: str, include_self: bool = True) -> list[Version]:
        """Drop `path` (unless include_self is False) and everything below; returns the live versions dropped."""
        gone = list(self.descendants(path))
        if include_self:
            gone.append(path)
        dropped = [self.live.pop(p) for p in gone if p in self.live]
        for p in gone:
            self._children.pop(p, None)
        if include_self and path:
            self._children.get(self._parent(path), set()).discard(path)
        else:
            self._children.pop(path, None)
        return dropped


def _hide(versions: Iterable[Version], status: str, layer: int) -> list[Version]:
    hidden = []
    for v in versions:
        v.status, v.removed_in = status, layer
        hidden.append(v)
    return hidden


def replay(layers: Iterable[LayerMembers]) -> list[LayerChanges]:
    """Every layer's changes with each version's final status, base first."""
    tree = PathTree()
    out: list[LayerChanges] = []
    for layer in layers:
        k = layer.index
        changes = LayerChanges(k, layer.compressed_size, layer.tar_size)
        for m in layer.members:
            if m.kind == "opaque":
                changes.deleted_paths.append(posixpath.join(m.path, "*"))
                changes.removed += _hide(tree.remove_subtree(m.path, include_self=False), DELETED_OPAQUE, k)
        for m in layer.members:
            if m.kind == "whiteout":
                changes.deleted_paths.append(m.path)
                changes.removed += _hide(tree.remove_subtree(m.path), DELETED, k)
        for m in layer.members:
            if m.kind in ("opaque", "whiteout"):
                continue
            version = Version(k, m.path, m.kind, m.size)
            old = tree.live.get(m.path)
            if old is not None:
                version.change = "M"
            if m.kind == DIR and (old is None or old.kind == DIR):
                if old is not None:   # a directory listed again keeps its children
                    old.status, old.removed_in = OVERWRITTEN, k
            else:   # a non-directory replaces whatever was there, and everything below it
                changes.removed += _hide(tree.remove_subtree(m.path), OVERWRITTEN, k)
            changes.removed += _hide(_blocking_ancestors(tree, m.path), OVERWRITTEN, k)
            tree.add(version)
            changes.versions.append(version)
        out.append(changes)
    return out


def _blocking_ancestors(tree: PathTree, path: str) -> list[Version]:
    """Lower non-directories standing where this path needs a directory (a file replaced by a dir)."""
    dropped: list[Version] = []
    parent = posixpath.dirname(path)
    while parent:
        v = tree.live.get(parent)
        if v is not None and v.kind != DIR:
            dropped += tree.remove_subtree(parent)
        parent = posixpath.dirname(parent)
    return dropped


def file_versions(changes: list[LayerChanges]) -> Iterator[Version]:
    """Every regular-file version of every layer, base first."""
    for layer in changes:
        for v in layer.versions:
            if v.kind == FILE:
                yield v
