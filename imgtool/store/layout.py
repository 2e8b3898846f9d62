"""An OCI image layout directory (image-spec image-layout.md) as plain functions over a path.

`oci-layout`, `index.json` and `blobs/<alg>/<encoded>`: exactly what skopeo, umoci and containerd
read, so the store needs no export step. `index.json` is replaced atomically under an exclusive lock
(read-modify-write), so two processes tagging at once both land.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from imgtool.atomicfile import write_bytes
from imgtool.errors import DigestMismatchError, NotFoundError, SchemaError, StoreError
from imgtool.filelock import flock
from imgtool.oci import canonical, mediatype, schema
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest, of_bytes
from imgtool.oci.manifest import Index, parse_index

from . import blobs
from .validated import DIR as VALIDATED_DIR, ValidatedDigests

if TYPE_CHECKING:
    from imgtool.layer.layer import Layer

OCI_LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
_INDEX_LOCK = ".index.lock"
_GC_LOCK = ".gc.lock"


def init(path: Path) -> None:
    """Create an empty layout at `path` if there is none; refuse a directory that is something else.

    Concurrent first uses of an empty root (three `imgtool images` at once) decide under the index
    lock, and `oci-layout` is written last, so a layout that has its marker is complete.
    """
    marker = path / OCI_LAYOUT_FILE
    try:
        if marker.is_file():
            check(path)
            return
        if path.exists() and not path.is_dir():
            raise StoreError(f"{path}: the store root (IMGTOOL_ROOT) is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        with index_lock(path):
            if marker.is_file():
                check(path)
                return
            if any(p.name not in (TMP_DIR, _INDEX_LOCK, _GC_LOCK) for p in path.iterdir()):
                raise StoreError(f"{path}: not empty and not an OCI image layout (no {OCI_LAYOUT_FILE})")
            (path / BLOBS_DIR).mkdir(exist_ok=True)
            empty = Index(()).to_bytes()
            write_bytes(path / INDEX_FILE, empty)
            write_bytes(marker, canonical.dumps({"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}))
            memo(path).remember_bytes(schema.INDEX, empty)
    except OSError as exc:
        raise StoreError(f"cannot use {path} as the store: {exc.strerror or exc}") from None


def check(path: Path) -> None:
    """Validate `oci-layout` against its schema (a layout from another tool must be one we can read)."""
    try:
        doc = canonical.loads((path / OCI_LAYOUT_FILE).read_bytes(), f"{path}/{OCI_LAYOUT_FILE}")
    except FileNotFoundError:
        raise StoreError(f"{path}: not an OCI image layout (no {OCI_LAYOUT_FILE})") from None
    if doc == _LAYOUT_DOC:  # the one document every tool writes: valid without loading jsonschema
        return
    schema.validate(doc, schema.LAYOUT, f"{path}/{OCI_LAYOUT_FILE}")


_LAYOUT_DOC = {"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}


def index_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock for a read-modify-write of index.json."""
    return flock(path / _INDEX_LOCK)


def writer_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Shared lock held while blobs are written and then named; prune waits for all of them."""
    return flock(path / _GC_LOCK, exclusive=False)


def gc_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock for prune: no writer is between writing a blob and naming it."""
    return flock(path / _GC_LOCK)


def memo(path: Path) -> ValidatedDigests:
    """The layout's memo of documents that passed their schema (store/validated.py)."""
    return ValidatedDigests(path / VALIDATED_DIR)


def _index_bytes(path: Path) -> bytes:
    try:
        return (path / INDEX_FILE).read_bytes()
    except FileNotFoundError:
        raise StoreError(f"{path}: not an OCI image layout (no {INDEX_FILE})") from None


def read_index(path: Path) -> Index:
    """Parse and validate index.json (validated once per content: the layout's memo)."""
    return parse_index(_index_bytes(path), f"{path}/{INDEX_FILE}", memo(path))


def update_index(path: Path, change: Callable[[Index], Index]) -> Index:
    """Apply `change` to index.json under the lock and write the result atomically (not at all
    when `change` leaves it as it was: re-tagging an image where it already is costs no write).

    The new bytes were validated by `to_bytes`, so they go into the memo as written; the marker of
    the index they replace is dropped, so markers do not pile up with every tag.
    """
    with index_lock(path):
        old = _index_bytes(path)
        before = parse_index(old, f"{path}/{INDEX_FILE}", memo(path))
        new = change(before)
        if new == before:
            return new
        data = new.to_bytes()
        write_bytes(path / INDEX_FILE, data)
        if data != old:
            memo(path).remember_bytes(schema.INDEX, data)
            memo(path).forget_bytes(schema.INDEX, old)
        return new


def blob_path(path: Path, digest: Digest) -> Path:
    """Where a blob lives in this layout."""
    return blobs.blob_path(path / BLOBS_DIR, digest)


def open_blob(path: Path, digest: Digest) -> BinaryIO:
    """Open a blob for reading; a missing blob is a one-line NotFoundError."""
    try:
        return open(blob_path(path, digest), "rb")
    except FileNotFoundError:
        raise NotFoundError(f"blob {digest} not found in {path}") from None


def layer(path: Path, descriptor: Descriptor, diff_id: Digest) -> Layer:
    """A layer whose blob is (or will be) in this layout."""
    from imgtool.layer.layer import Layer  # the layer codec: only commands that read layers import it

    return Layer(descriptor, diff_id, lambda: open_blob(path, descriptor.digest))


def read_blob(path: Path, digest: Digest, limit: int = 4 << 20) -> bytes:
    """Read a small blob (manifest, config) and verify it against its digest."""
    with open_blob(path, digest) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise SchemaError(f"blob {digest} is larger than {limit} bytes; refusing to load it as JSON")
    digest.verify(data)
    return data


def blob_writer(path: Path, algorithm: str = "sha256") -> blobs.BlobWriter:
    """A verified, atomic writer for a new blob in this layout (temp files under tmp/)."""
    return blobs.BlobWriter(path / BLOBS_DIR, algorithm, tmp_dir=path / TMP_DIR)


def write_blob(path: Path, data: bytes, expected: Digest | None = None) -> Digest:
    """Store an in-memory blob, verified against `expected` when given.

    Bytes already stored are not written again (a blob is never rewritten anyway): a rebuild or
    re-import of the same config then costs a hash and a stat, not a temp file and two fsyncs.
    """
    digest = of_bytes(data, expected.algorithm if expected else "sha256")
    if expected is not None and digest != expected:
        raise DigestMismatchError(f"blob digest {digest} does not match expected {expected}")
    if blob_path(path, digest).is_file():
        return digest
    with blob_writer(path, expected.algorithm if expected else "sha256") as writer:
        writer.write(data)
        return writer.commit(expected)


def iter_blobs(path: Path) -> Iterator[Digest]:
    """Every blob present, by digest (files with names that are not digests are skipped)."""
    root = path / BLOBS_DIR
    if not root.is_dir():
        return
    for alg_dir in sorted(root.iterdir()):
        if not alg_dir.is_dir():
            continue
        for f in sorted(alg_dir.iterdir()):
            try:
                yield Digest.parse(f"{alg_dir.name}:{f.name}")
            except Exception:
                continue

