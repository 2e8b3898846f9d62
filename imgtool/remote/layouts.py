"""The store and OCI image layouts as image sources and destinations (they are the same format).

Names: the store keeps docker's short form in `ref.name` (`busybox`); a layout written for a peer
tool (`oci:DIR:TAG`) keeps TAG exactly as given, which is what skopeo and umoci look up. Reading
accepts both spellings: `oci:$IMGTOOL_ROOT:busybox` and `oci:$IMGTOOL_ROOT:busybox:latest` find the
same image (docs/client.md).

A destination stages blobs and manifests as uncommitted writers under the store's `tmp/`, holding
the store's writer lock so prune cannot take them. Each blob's data is fsynced on the worker thread
that wrote it; `commit` links them all into `blobs/`, fsyncs that directory once, and only then
writes the name. A failed copy leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import BinaryIO

from imgtool.atomicfile import fsync_dir
from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.oci import reference, schema
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest
from imgtool.oci.manifest import ANNOTATION_REF_NAME, Index
from imgtool.store import Store, layout
from imgtool.layer.verify import check_blob
from imgtool.store.blobs import BlobWriter

from .endpoint import OnBytes, Opener, pump


def _find(store: Store, name: str | None) -> Descriptor:
    entries = store.images()
    if name is None:
        if len(entries) != 1:
            raise NotFoundError(f"{store.path}: holds {len(entries)} images; name one (oci:DIR:NAME)")
        return entries[0].descriptor
    for entry in entries:
        if entry.descriptor.annotations.get(ANNOTATION_REF_NAME) == name:
            return entry.descriptor
    return store.find(name).descriptor


class LayoutSource:
    """An image in the store or in any OCI layout directory."""

    def __init__(self, store: Store, name: str | None, what: str | None = None,
                 descriptor: Descriptor | None = None, is_store: bool = False):
        self.store = store
        self.what = what or f"oci:{store.path}:{name or ''}"
        self.descriptor = descriptor or _find(store, name)
        self.memo = store.validated if is_store else None  # a peer's layout gets no markers written

    def root(self) -> tuple[bytes, str]:
        return self.store.read_blob(self.descriptor.digest), self.descriptor.media_type

    def manifest(self, descriptor: Descriptor) -> bytes:
        return self.store.read_blob(descriptor.digest)

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        try:
            return self.store.open_blob(descriptor.digest)
        except NotFoundError:
            raise NotFoundError(f"blob {descriptor.digest} of the image is missing from {self.store.path}") from None

    def close(self) -> None:
        pass


class _StagedMemo:
    """The store's schema memo for a copy into it: lookups go to the store, passes are recorded
    only when the copy publishes (a failed pull leaves no marker of the documents it saw)."""

    def __init__(self, memo: schema.Memo):
        self.memo = memo
        self.pending: list[tuple[str, str]] = []

    def seen(self, schema_name: str, sha256_hex: str) -> bool:
        return self.memo.seen(schema_name, sha256_hex)

    def remember(self, schema_name: str, sha256_hex: str) -> None:
        self.pending.append((schema_name, sha256_hex))

    def publish(self) -> None:
        pending, self.pending = self.pending, []
        for schema_name, key in pending:
            self.memo.remember(schema_name, key)


class LayoutDestination:
    """The store (names normalised as docker does) or a peer's layout (`raw_tag`: kept verbatim).

    `deferred`: several images copied into one destination (`load`): `commit` only stages, and
    `name_all` publishes everything and names every image in one index.json update, or none."""

    def __init__(self, store: Store, names: list[str], raw_tag: str | None = None, what: str | None = None,
                 deferred: bool = False, is_store: bool = False):
        self.store = store
        self.memo = _StagedMemo(store.validated) if is_store else None
        self.names = names
        self.raw_tag = raw_tag
        self.deferred = deferred
        self.what = what or str(store.path)
        self.named: list[reference.Reference] = []
        self._pending: dict[str, BlobWriter] = {}
        self._lock = threading.Lock()
        self._held = contextlib.ExitStack()
        self._held.enter_context(store.writing())

    verifies = True

    def has_blob(self, descriptor: Descriptor) -> bool:
        with self._lock:
            if str(descriptor.digest) in self._pending:
                return True
        return self.store.has_blob(descriptor.digest)

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        writer = self.store.blob_writer(descriptor.digest.algorithm)
        try:
            with opener() as source:
                pump(source, writer.write, on_bytes, descriptor.size)
            check_blob(descriptor, writer.size, writer.digest)  # the writer hashed every byte
            writer.sync()  # the data's fsync on this worker thread, overlapping the other transfers
        except BaseException:
            writer.abort()
            raise
        self._stage(descriptor.digest, writer)
        return "copied"

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        self._stage_bytes(data, descriptor)

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        root = Descriptor(media_type, descriptor.digest, len(data), platform=descriptor.platform)
        self._stage_bytes(data, root)
        if self.deferred:
            return
        self._publish()
        if self.raw_tag is not None:
            self._tag_verbatim(root, self.raw_tag)
        else:
            for name in self.names:
                ref = reference.parse(name)
                if ref.digest is not None and ref.digest != root.digest:
                    ref = ref.with_digest(root.digest)  # a platform's image chosen from the index
                self.named.append(self.store.tag(root, str(ref)))
            if not self.names:
                self._tag_verbatim(root, None)

    def name_all(self, plan: list[tuple[Descriptor, list[str]]]) -> list[reference.Reference]:
        """Publish what the deferred copies staged, then give each image its names at once."""
        self._publish()
        self.named = self.store.name(plan)
        return self.named

    def _stage(self, digest: Digest, writer: BlobWriter) -> None:
        with self._lock:
            self._pending[str(digest)] = writer

    def _stage_bytes(self, data: bytes, descriptor: Descriptor) -> None:
        """A manifest or index, staged like a blob (the copy routine verified it already)."""
        if self.has_blob(descriptor):
            return
        writer = self.store.blob_writer(descriptor.digest.algorithm)
        try:
            writer.write(data)
            check_blob(descriptor, writer.size, writer.digest)
            writer.sync()
        except BaseException:
            writer.abort()
            raise
        self._stage(descriptor.digest, writer)

    def _publish(self) -> None:
        """Link every staged blob and manifest into `blobs/` (each already fsynced), then fsync the
        directories once: durable before anything names them, without a directory fsync per blob."""
        with self._lock:
            pending, self._pending = self._pending, {}
        dirs = set()
        try:
            for digest, writer in list(pending.items()):
                dirs.add(self.store.blob_path(writer.commit(sync_dir=False)).parent)
                del pending[digest]
        finally:
            for writer in pending.values():
                writer.abort()
        for d in dirs:
            fsync_dir(d)
        if self.memo is not None:
            self.memo.publish()

    def _tag_verbatim(self, root: Descriptor, tag: str | None) -> None:
        entry = dataclasses.replace(root, annotations={ANNOTATION_REF_NAME: tag} if tag else {})

        def change(index: Index) -> Index:
            kept = tuple(d for d in index.manifests
                         if (d.annotations.get(ANNOTATION_REF_NAME) != tag if tag else d.digest != root.digest))
            return Index(kept + (entry,), index.media_type, index.annotations)

        layout.update_index(self.store.path, change)

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for writer in pending.values():
            writer.abort()
        self._held.close()


def open_layout(path: str, create: bool) -> Store:
    """A layout directory as a Store (created when writing to a new directory)."""
    from pathlib import Path

    p = Path(path)
    if not create and not (p / layout.OCI_LAYOUT_FILE).exists():
        raise NotFoundError(f"{path}: not an OCI image layout (no {layout.OCI_LAYOUT_FILE})")
    try:
        return Store.open(p)
    except OSError as exc:
        raise ImgtoolError(f"{path}: cannot open the layout: {exc.strerror}") from None
