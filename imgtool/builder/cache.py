"""The build cache: step keys -> the layer each step produced, persistent in the store.

A key is a content hash (`key(...)`): what the step starts from (the ChainID of the layers below it)
plus everything that decides its result (the expanded instruction, environment, user, workdir,
build args in scope, checksums of its sources), never file mtimes and never the previous step's
*key*, only the previous step's *content*: a step that re-ran and produced the same layer lets the
next steps hit again, so a miss never stops later hits.

Records are one small JSON file per key under `<store>/buildcache/keys/`, written by rename, so
two builds writing at once never see half a record, and a record whose blob a prune removed is a
miss. Cache mounts (`RUN --mount=type=cache`) live under `<store>/buildcache/mounts/<id>`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from imgtool import atomicfile
from imgtool.frozen import frozen
from imgtool.layer.layer import Layer
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest
from imgtool.store import Store, gc

CACHE_DIR = "buildcache"
# Part of every key: bumped when a step's result changes for the same inputs (a builder fix), so a
# store's records from before the fix miss instead of handing back the old layers. 2: per-source
# COPY and COPY onto symlinks as BuildKit (session 5). 3: sessions 7-8's parity fixes (ADD's
# untar, COPY --link onto scratch, --parents pivots, parents through dangling links, a context
# socket, RUN's tmpfs/bind mounts and its default seccomp profile).
KEY_VERSION = 3


def key(*parts: Any) -> str:
    """A cache key from JSON-serialisable parts (order matters, dict keys are sorted)."""
    data = json.dumps((KEY_VERSION, *parts), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


@frozen
class Record:
    """What a cached step produced: a layer or nothing, and when (its history `created`)."""

    layer: Layer | None
    created: str | None

    def to_json(self) -> bytes:
        out: dict[str, Any] = {"created": self.created}
        if self.layer is not None:
            d = self.layer.descriptor
            out.update(media_type=d.media_type, digest=str(d.digest), size=d.size, diff_id=str(self.layer.diff_id))
        return json.dumps(out, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, store: Store) -> "Record":
        d = json.loads(data)
        if "digest" not in d:
            return cls(None, d.get("created"))
        descriptor = Descriptor(d["media_type"], Digest.parse(d["digest"]), int(d["size"]))
        return cls(store.layer(descriptor, Digest.parse(d["diff_id"])), d.get("created"))


class BuildCache:
    """The cache of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.root = store.path / CACHE_DIR
        self.keys = self.root / "keys"
        self.mounts = self.root / "mounts"

    def get(self, k: str) -> Record | None:
        """The record for key `k`, or None (absent, unreadable, or its blob is gone)."""
        try:
            record = Record.from_json((self.keys / k[:2] / k).read_bytes(), self.store)
        except (OSError, ValueError, KeyError):
            return None
        if record.layer is not None and not self.store.has_blob(record.layer.digest):
            return None
        return record

    def put(self, k: str, record: Record, replace: bool = False) -> Record:
        """Store a record unless the key already has a valid one; returns the record that stands.

        First writer wins, and the loser adopts the winner's result: two builds running the same
        step at once then continue from the same layer, so the next steps' keys (which chain on
        content) agree and a later rebuild of either hits all the way down.
        """
        dest = self.keys / k[:2] / k
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = record.to_json()
        # not durable: a record lost in a crash is a cache miss, never a wrong hit
        if replace:  # --no-cache: the fresh result is the one that stands
            atomicfile.write_bytes(dest, data, durable=False)
            return record
        if atomicfile.create(dest, data, durable=False):
            return record
        existing = self.get(k)
        if existing is not None:
            return existing
        atomicfile.write_bytes(dest, data, durable=False)  # the old record's blob is gone: ours replaces it
        return record

    def remembered(self, k: str, compute: Callable[[], str]) -> str:
        """A value derived from immutable inputs (what a snapshot holds), computed once per key
        and kept beside the records (a lost or torn file is computed again)."""
        path = self.root / "derived" / k[:2] / k
        try:
            value = path.read_text()
            if value:
                return value
        except (OSError, UnicodeDecodeError):
            pass
        value = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomicfile.write_bytes(path, value.encode(), durable=False)
        return value

    def mount_dir(self, mount_id: str, uid: int = 0, gid: int = 0, mode: int = 0o755,
                  seed: Callable[[Path], None] | None = None) -> Path:
        """The persistent directory of a cache mount id; a new one is made with this owner and mode,
        or filled by `seed` (a `from=` cache starts as a copy of that stage's directory) in a
        staging dir renamed into place, so a concurrent step never sees it half filled."""
        name = hashlib.sha256(mount_id.encode()).hexdigest()[:32]
        path = self.mounts / name
        self.mounts.mkdir(parents=True, exist_ok=True)
        if seed is not None:
            if not path.is_dir():
                staging = Path(tempfile.mkdtemp(prefix=".seed-", dir=self.mounts))
                try:
                    seed(staging)
                    os.rename(staging, path)
                except OSError:
                    if not path.is_dir():  # else another step seeded it first: theirs is used
                        raise
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
            return path
        try:
            path.mkdir()
        except FileExistsError:
            return path
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return path

    def records(self) -> list[Record]:
        """Every readable record."""
        out = []
        if not self.keys.is_dir():
            return out
        for sub in self.keys.iterdir():
            for f in sub.iterdir() if sub.is_dir() else ():
                if f.name.startswith("."):
                    continue
                try:
                    out.append(Record.from_json(f.read_bytes(), self.store))
                except (OSError, ValueError, KeyError):
                    continue
        return out

    def usage(self) -> tuple[int, int]:
        """(entries, bytes): records, plus the blobs only the cache holds, plus cache mounts."""
        kept = _images_reach(self.store)
        records = self.records()
        size = sum(r.layer.size for r in {r.layer.digest: r for r in records if r.layer}.values()
                   if r.layer.digest not in kept and self.store.has_blob(r.layer.digest))
        size += gc.tree_size(self.mounts)
        return len(records), size

    def prune(self) -> int:
        """Drop every record, cache mount and cache-only blob; returns the bytes freed."""
        from imgtool.store import layout

        with layout.gc_lock(self.store.path):  # no build is between writing a layer and naming it
            return self._prune()

    def _prune(self) -> int:
        records = self.records()
        freed = gc.tree_size(self.mounts)
        shutil.rmtree(self.root, ignore_errors=True)
        kept = _images_reach(self.store)
        for digest in {r.layer.digest for r in records if r.layer}:
            if digest in kept:
                continue
            path = self.store.blob_path(digest)
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
        freed += _prune_snapshots(self.store)
        return freed


def _images_reach(store: Store) -> set:
    """Every blob an image in the store reaches, named or not.

    Why not only the named ones: an untagged image (`build` without `-t`, or one whose tag moved
    to a newer build) is still an image, listed as `<none>` and runnable by ID; `docker builder
    prune` never touches images, and removing their layers here left index.json pointing at
    missing blobs (`imgtool images` then failed). Unnamed images go with `imgtool prune`."""
    return store.reachable([entry.descriptor for entry in store.images()])


def _prune_snapshots(store: Store) -> int:
    """Remove layer snapshots that nothing needs any more (the builder's committed steps): not an
    image's (named or not, as `_images_reach`), not a container's image's, and not one a running
    container mounts."""
    images = [entry.descriptor for entry in store.images()]
    return gc.remove_snapshots(store, gc.needed_snapshots(store, images))[1]


def _sweep(store: Store) -> int:
    """`imgtool prune`'s part for the build cache, called under the store's GC lock: records and
    cache mounts go; the store's GC then frees the blobs and snapshots only they kept alive."""
    cache = BuildCache(store)
    freed = gc.tree_size(cache.mounts)
    shutil.rmtree(cache.root, ignore_errors=True)
    return freed


def _usage(store: Store) -> gc.Usage:
    count, size = BuildCache(store).usage()
    return gc.Usage("Build Cache", count, 0, size, size)  # prune sweeps all of it


gc.register(gc.Owner("Build Cache", usage=_usage, sweep=_sweep))
