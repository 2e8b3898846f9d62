"""Garbage collection of a store: what names, running containers and caches still reach; the rest goes.

`prune` (docker's `system prune`) works under the exclusive GC lock, which every writer that is
between writing blobs and naming them holds shared, and decides in this order:
1. what registered owners still need (the images of existing containers) is asked first;
2. index entries: unnamed ones go unless an owner needs them (with `all_images`, every image that
   no owner and no running container uses);
3. caches beside the images (the build cache) are swept by their owners;
4. blobs that no remaining entry or owner root reaches are deleted;
5. unpacked snapshots (`snapshots/layers|full/<chainid>`) that no remaining image, owner root or
   running container (its lease: `snapshots/containers/<id>/lowers`) needs are deleted.
6. the schema memo (store/validated.py) forgets documents that are gone.
`usage` reports the same categories for `imgtool system df`.

Owners register instead of being imported here because they live above the store (the builder);
the CLI imports them, so a prune from the CLI always asks every owner.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen
from imgtool.oci import mediatype, schema
from imgtool.oci.config import chain_ids, parse_config
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest
from imgtool.oci.manifest import Index, parse_document, parse_manifest, references

from . import layout
from .store import Store, _entry_names

LEASE_FILE = "lowers"  # in snapshots/containers/<id>/: the snapshot dirs a running container mounts


@frozen
class Owner:
    """Something that keeps data in the store beside the images (the build cache).

    `roots` names the images (index entries) it needs kept, with their blobs and snapshots; `sweep`
    is called by prune under the exclusive GC lock (so it must not take that lock) and frees what
    the owner holds, returning the bytes freed; `usage` is its row of `system df`.
    """

    name: str
    usage: Callable[[Store], "Usage"]
    sweep: Callable[[Store], int] = lambda store: 0
    roots: Callable[[Store], Iterable[Descriptor]] = lambda store: ()


_OWNERS: dict[str, Owner] = {}


def register(owner: Owner) -> None:
    """Let prune and system df ask `owner` (registering a name again replaces the earlier one)."""
    _OWNERS[owner.name] = owner


@dataclass
class Report:
    """What a prune removed."""

    entries: list[str] = field(default_factory=list)  # index entries dropped, by name or digest
    blobs: list[Digest] = field(default_factory=list)
    blob_bytes: int = 0
    snapshots: int = 0
    snapshot_bytes: int = 0
    caches: dict[str, int] = field(default_factory=dict)  # owner name -> bytes freed

    @property
    def freed(self) -> int:
        """Bytes freed in all."""
        return self.blob_bytes + self.snapshot_bytes + sum(self.caches.values())


def tree_size(path: Path) -> int:
    """Disk bytes of a directory tree (allocated blocks, symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _snapshot_dirs(store: Store) -> list[Path]:
    return [p for sub in ("layers", "full") if (store.snapshots_dir / sub).is_dir()
            for p in (store.snapshots_dir / sub).iterdir()]


def leased(store: Store) -> set[str]:
    """Snapshot dir names (`<alg>-<hex>`) that running containers mount."""
    out: set[str] = set()
    containers = store.snapshots_dir / "containers"
    for lease in containers.glob(f"*/{LEASE_FILE}") if containers.is_dir() else ():
        try:
            out.update(line for line in lease.read_text().split() if line)
        except OSError:
            continue
    return out


def _image_chains(store: Store, roots: Iterable[Descriptor]) -> set[str]:
    """Snapshot dir names of every image the roots reach (all platforms of an index)."""
    out: set[str] = set()
    stack, seen = list(roots), set()
    while stack:
        d = stack.pop()
        if d.digest in seen or not store.has_blob(d.digest):
            continue
        seen.add(d.digest)
        try:
            if mediatype.is_index(d.media_type):
                stack.extend(references(parse_document(d.media_type, store.read_blob(d.digest), memo=store.validated)))
            elif mediatype.is_manifest(d.media_type):
                manifest = parse_manifest(store.read_blob(d.digest), memo=store.validated)
                config = parse_config(store.read_blob(manifest.config.digest), memo=store.validated)
                out.update(dirname(c) for c in chain_ids(list(config.diff_ids)))
        except ImgtoolError:
            continue  # a broken image keeps nothing alive, and hides nothing
    return out


def needed_snapshots(store: Store, images: Iterable[Descriptor]) -> set[str]:
    """Snapshot dir names that `images`, the owners' images (containers) and running containers'
    leases still need: what a partial prune (`builder prune`) must keep."""
    roots = [*images, *(d for owner in _OWNERS.values() for d in owner.roots(store))]
    return _image_chains(store, roots) | leased(store)


def remove_snapshots(store: Store, wanted: set[str]) -> tuple[int, int]:
    """Delete every unpacked snapshot not in `wanted` (call under the GC lock); (count, bytes)."""
    count = freed = 0
    for snap in _snapshot_dirs(store):
        if snap.name not in wanted:
            freed += tree_size(snap)
            shutil.rmtree(snap, ignore_errors=True)
            count += 1
    return count, freed


def manifest_of(store: Store, image_id: str) -> Descriptor | None:
    """The manifest (named or not) whose config is `image_id`: an owner's image that lost its last
    name still has to be found until a prune (the store keeps no reverse map, so small blobs are read)."""
    for digest in layout.iter_blobs(store.path):
        path = store.blob_path(digest)
        try:
            if path.stat().st_size > 1 << 20 or image_id not in path.read_text(errors="replace"):
                continue
            data = store.read_blob(digest)
            manifest = parse_manifest(data, memo=store.validated)
        except (OSError, ImgtoolError):
            continue
        if str(manifest.config.digest) == image_id:
            return Descriptor(manifest.media_type, digest, len(data))
    return None


def dirname(chain: Digest) -> str:
    """A snapshot's directory name for its ChainID."""
    return f"{chain.algorithm}-{chain.encoded}"


def prune(store: Store, all_images: bool = False) -> Report:
    """Remove everything unreachable (see the module docstring); returns what went."""
    report = Report()
    with layout.gc_lock(store.path):
        in_use = leased(store)
        extra = [d for owner in _OWNERS.values() for d in owner.roots(store)]
        pinned = {d.digest for d in extra}

        def drop(index: Index) -> Index:
            kept = []
            for d in index.manifests:
                named = _entry_names(d)[0] is not None
                if d.digest in pinned or (named and (not all_images or _image_chains(store, [d]) & in_use)):
                    kept.append(d)
                else:
                    report.entries.append(_entry_names(d)[0] or str(d.digest))
            return Index(tuple(kept), index.media_type, index.annotations)

        layout.update_index(store.path, drop)
        for owner in _OWNERS.values():
            report.caches[owner.name] = owner.sweep(store)
        entries = list(store.index().manifests) + extra
        keep = store.reachable(entries)
        for digest in list(layout.iter_blobs(store.path)):
            if digest not in keep:
                path = store.blob_path(digest)
                report.blob_bytes += path.stat().st_size
                path.unlink()
                report.blobs.append(digest)
        report.snapshots, report.snapshot_bytes = remove_snapshots(store, _image_chains(store, entries) | in_use)
        present = {d.encoded for d in layout.iter_blobs(store.path) if d.algorithm == "sha256"}
        store.validated.retain(present | {schema.memo_key((store.path / layout.INDEX_FILE).read_bytes())})
        for stale in store.tmp_dir.iterdir():  # no writer is running: its scratch is left over
            if stale.is_file():
                stale.unlink()
    return report


@frozen
class Usage:
    """One row of `imgtool system df`."""

    kind: str
    total: int
    active: int
    size: int
    reclaimable: int


def usage(store: Store) -> list[Usage]:
    """What uses space in the store, and what a prune would free (docker system df's rows)."""
    entries = store.images()
    extra = [d for owner in _OWNERS.values() for d in owner.roots(store)]
    pinned = {d.digest for d in extra}
    named = [e.descriptor for e in entries if e.name is not None] + extra
    keep = store.reachable(named)
    sizes = {d: store.blob_path(d).stat().st_size for d in layout.iter_blobs(store.path)}
    in_use = leased(store) | _image_chains(store, extra)
    active_images = sum(1 for e in entries if e.descriptor.digest in pinned
                        or _image_chains(store, [e.descriptor]) & in_use)
    rows = [Usage("Images", len(entries), active_images, sum(sizes.values()),
                  sum(n for d, n in sizes.items() if d not in keep))]
    wanted = _image_chains(store, named) | in_use
    snaps = {p.name: tree_size(p) for p in _snapshot_dirs(store)}
    rows.append(Usage("Snapshots", len(snaps), len(set(snaps) & in_use), sum(snaps.values()),
                      sum(n for name, n in snaps.items() if name not in wanted)))
    rows.extend(owner.usage(store) for owner in _OWNERS.values())
    return rows
