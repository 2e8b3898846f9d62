"""The copy routine: one image from a source to a destination, verified, blobs in parallel.

Order is what makes it safe: every blob (configs and layers, skipped when the destination has it),
then child manifests, then the root document and its name. A failure anywhere leaves the
destination without the name, and store destinations without any of the new blobs.

From an index, one platform is copied (the host's, or `--platform`) and becomes the root, as
`docker pull` and `skopeo copy` do; `--all-platforms` copies the index and every image in it.
"""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass, field

from imgtool.errors import DigestMismatchError, LayerError, SchemaError
from imgtool.oci import mediatype
from imgtool.oci.descriptor import Descriptor, Platform
from imgtool.oci.manifest import descriptor_of, parse_index, parse_manifest
from imgtool.oci.schema import Memo

from .endpoint import ImageDestination, ImageSource, verified
from .progress import Progress, Silent


@dataclass(frozen=True)
class PlatformChoice:
    """Which images of an index to copy: one platform (None: the host's) or all of them."""

    platform: Platform | None = None
    all: bool = False


def pick(manifests: tuple[Descriptor, ...], want: Platform | None, what: str) -> Descriptor:
    """The index entry for `want` (None: the host's platform): the store's one platform choice,
    imported when a copy meets an index (store/image.py brings the config model, ~4 ms)."""
    from imgtool.store.image import host_platform, pick_platform

    return pick_platform(manifests, want or host_platform(), what)


@dataclass
class _Plan:
    """What a copy moves: blobs (unique by digest), then manifests children first, then the root."""

    memo: Memo | None = None  # documents the store saw pass their schema are not validated again
    blobs: dict[str, Descriptor] = field(default_factory=dict)
    children: list[tuple[bytes, Descriptor]] = field(default_factory=list)

    def add_manifest(self, data: bytes, d: Descriptor, what: str) -> None:
        m = parse_manifest(data, f"{what}: manifest {d.digest}", self.memo)
        for blob in (m.config, *m.layers):
            if not blob.urls:  # foreign layers stay where their urls say
                self.blobs.setdefault(str(blob.digest), blob)


def _child(src: ImageSource, d: Descriptor) -> bytes:
    data = src.manifest(d)
    if len(data) != d.size:
        raise DigestMismatchError(f"{src.what}: manifest {d.digest} has {len(data)} bytes, {d.size} expected")
    d.digest.verify(data)
    return data


def _walk(src: ImageSource, data: bytes, d: Descriptor, choice: PlatformChoice, plan: _Plan) -> tuple[bytes, Descriptor]:
    """Fill the plan from a root document; returns the (possibly narrowed) root."""
    if mediatype.is_manifest(d.media_type):
        plan.add_manifest(data, d, src.what)
        return data, d
    if not mediatype.is_index(d.media_type):
        raise SchemaError(f"{src.what}: {d.media_type!r} is neither an image manifest nor an index")
    index = parse_index(data, f"{src.what}: index {d.digest}", plan.memo)
    if not choice.all:
        chosen = pick(index.manifests, choice.platform, src.what)
        return _walk(src, _child(src, chosen), chosen, choice, plan)
    for entry in index.manifests:
        if mediatype.is_manifest(entry.media_type) or mediatype.is_index(entry.media_type):
            child = _child(src, entry)
            _walk(src, child, entry, choice, plan)
            plan.children.append((child, entry))
    return data, d


class _Stopped(Exception):
    """Another blob's transfer failed: this one stops too (its error is not the one reported)."""


def copy(src: ImageSource, dst: ImageDestination, choice: PlatformChoice = PlatformChoice(),
         progress: Progress | None = None, parallel: int = 4) -> Descriptor:
    """Copy the image `src` names to `dst`; returns the root descriptor written."""
    progress = progress or Silent()
    data, media_type = src.root()
    root = descriptor_of(data, media_type)
    # a store on either end: its memo (keyed by the bytes' own hash, so sound for any source) spares
    # jsonschema for documents it has seen pass, and records the ones it sees pass now
    plan = _Plan(src.memo or dst.memo)
    data, root = _walk(src, data, root, choice, plan)
    lock = threading.Lock()
    stop = threading.Event()  # set on the first failure (or Ctrl-C): the other transfers end at their next chunk
    todo = sorted(plan.blobs.values(), key=lambda b: -b.size)

    def move(blob: Descriptor) -> None:
        if dst.has_blob(blob):
            progress.done(blob, "exists")
            return
        progress.start(blob)

        def opener():
            raw = src.open_blob(blob)
            return raw if dst.verifies else verified(raw, blob)

        def advanced(n: int) -> None:
            if stop.is_set():
                raise _Stopped()
            with lock:
                progress.advance(blob, n)

        try:
            how = dst.put_blob(blob, opener, advanced)
        except LayerError as exc:  # the verified stream refused the source's bytes
            raise LayerError(f"{src.what}: {exc}; nothing was stored") from None
        progress.done(blob, how)

    if todo:
        with concurrent.futures.ThreadPoolExecutor(max(1, min(parallel, len(todo)))) as pool:
            futures = [pool.submit(move, blob) for blob in todo]
            try:
                for future in concurrent.futures.as_completed(futures):
                    future.result()
            except BaseException:
                stop.set()
                for f in futures:
                    f.cancel()
                raise
    for child, d in plan.children:
        dst.put_manifest(child, d.media_type, d)
    dst.commit(data, root.media_type, root)
    progress.finish(root)
    return root
