"""Verified layer streams: what a blob must turn out to be, checked while its bytes move.

Two readers, for the two views of a layer (go-containerregistry's Compressed/Uncompressed):
- `VerifiedBlob`: the blob as stored or sent, checked against its descriptor's digest and size. A
  blob longer than its descriptor fails as soon as it overflows; a mismatch fails at end of stream.
- `VerifiedLayer`: the uncompressed tar, checked against the descriptor (digest, size, and the
  media type's compression against the content's magic bytes, CVE-2021-41190 class) and the DiffID
  over *every* uncompressed byte, trailing junk after the tar end-of-archive included (as umoci).

Both raise LayerError when the consumer reaches the end, so a reader that reads to the end cannot
miss a mismatch; since that is only known at the end, callers apply into staging and discard it.

Trusted layers (`VerifiedLayer(..., trusted=True)`): the store's own blobs need not be hashed again
on every unpack, as containerd trusts its content store. The policy: a layer is trusted only when
the store's memo holds the pair (blob digest, DiffID) as `trust_key` spells it, and that pair is
recorded only by code that computed *both* from the same bytes: the store's layer writer
(`mutate.add_layer`: the blob digest and the DiffID of what it wrote, in one pass) and a full
verification that passed (`imgtool unpack` records it after its first unpack of a blob). Trusted, the
stream still checks the media type against the magic bytes, the blob's size, and the gzip/zstd
checksums the decompressor verifies; it skips the two SHA-256 passes (the blob's and the DiffID's,
~0.26 s of CPU per 200 MB here). What it cannot catch is a blob changed on disk after it was
verified into one of the same size and a valid checksum: `imgtool unpack --verify` re-hashes
everything, and every path that takes a blob from outside (pull, load, a layout another tool
wrote, push) verifies as before. The memo is a cache (store/validated.py): prune drops it, which
only means the next unpack verifies in full again.

Why a thread in VerifiedLayer: zlib/ISA-L inflate, sha256 and file writes all release the GIL, so
running decompression beside the tar-parse-and-write stage costs the slowest stage instead of their
sum (research/runtime.md §5.2: 92 MB/s serial). The consumer sees a plain readable stream.
The DiffID is hashed in the consumer as it takes each chunk, not in the producer: the producer
(read, inflate, the blob's digest) was the slowest stage of a cold 200 MB unpack, and the consumer
waits on its writes anyway. Every chunk is taken before `verify()` runs, so no byte is missed.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
from typing import BinaryIO

from imgtool.errors import ImgtoolError, LayerError
from imgtool.oci import mediatype
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest, new_hasher

from . import compression
from .tee import TeeReader

CHUNK = 1 << 20
_DEPTH = 8  # chunks in flight: bounded memory, enough slack for the stages to overlap


def check_media_type(media_type: str, head: bytes) -> None:
    """The content's compression (by magic bytes) must be the one its media type claims."""
    if media_type not in mediatype.LAYERS:
        raise LayerError(f"{media_type!r} is not a layer media type")
    claimed = compression.Compression.of_media_type(media_type)
    actual = compression.detect(head)
    if claimed != actual:
        raise LayerError(f"layer content is {_word(actual)} but its media type says {_word(claimed)} ({media_type})")


def _word(kind: compression.Compression) -> str:
    return "uncompressed" if kind == compression.NONE else kind.value


def check_blob(descriptor: Descriptor, size: int, digest: Digest) -> None:
    """A whole blob's size and digest against its descriptor (size first: it is the cheaper lie)."""
    if size != descriptor.size:
        raise LayerError(f"blob {descriptor.digest}: size mismatch: descriptor says {descriptor.size}, blob has {size}")
    if digest != descriptor.digest:
        raise LayerError(f"blob digest mismatch: expected {descriptor.digest}, got {digest}")


TRUST_MEMO = "layer-diff-id"  # the store memo's kind for trusted (blob digest, DiffID) pairs


def trust_key(descriptor: Descriptor, diff_id: Digest) -> str:
    """The memo's name for "this blob was verified to inflate to this DiffID" (module docstring): the
    SHA-256 of the pair, so any algorithms fit a file name."""
    return hashlib.sha256(f"{descriptor.digest} {descriptor.size} {diff_id}".encode()).hexdigest()


def _read_ahead(blob: BinaryIO) -> None:
    """A blob in a file is read whole, once: have the kernel fetch all of it now (POSIX_FADV_WILLNEED),
    so a blob that is not in the page cache streams from disk while it is inflated, not chunk by chunk."""
    try:
        os.posix_fadvise(blob.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass  # not a file (a socket, memory): nothing to read ahead


class VerifiedBlob(io.RawIOBase):
    """A blob's bytes as they are, checked against its descriptor; closing it closes the source."""

    def __init__(self, raw: BinaryIO, descriptor: Descriptor):
        self.descriptor = descriptor
        self._tee = TeeReader(raw, descriptor.digest.algorithm)
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._tee.readinto(buffer)
        if self._tee.count > self.descriptor.size:
            raise LayerError(f"blob {self.descriptor.digest} is larger than its descriptor's {self.descriptor.size} bytes")
        if n == 0 and not self._checked:
            check_blob(self.descriptor, self._tee.count, self._tee.digest)
            self._checked = True
        return n

    def close(self) -> None:
        if not self.closed:
            self._tee.raw.close()
        super().close()


class VerifiedLayer(io.RawIOBase):
    """Uncompressed tar bytes of a layer blob, produced by a background thread.

    `descriptor` and `diff_id` are what the blob must turn out to be; without them nothing is
    checked and the stream only computes the DiffID (a fresh layer whose identity is being learnt).
    Read it to the end (or `drain()`), then `verify()` gives the DiffID; `close()` (or leaving a
    `with` block) stops the producer early and closes the source.
    """

    def __init__(self, blob: BinaryIO, descriptor: Descriptor | None = None, diff_id: Digest | None = None,
                 trusted: bool = False):
        if trusted and (descriptor is None or diff_id is None):
            raise ValueError("only a layer with a known descriptor and DiffID can be trusted")
        self.descriptor = descriptor
        self.expected_diff_id = diff_id
        self.trusted = trusted
        self._source = blob
        self._counted = TeeReader(blob, None if trusted else descriptor.digest.algorithm if descriptor else "sha256")
        self._buffered = io.BufferedReader(self._counted, CHUNK)
        if descriptor is not None:
            check_media_type(descriptor.media_type, self._buffered.peek(4)[:4])
        self._diff_hasher = None if trusted else new_hasher(diff_id.algorithm if diff_id else "sha256")
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_DEPTH)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._eof = False
        self._diff_id: Digest | None = None
        self._thread = threading.Thread(target=self._produce, name="layer-inflate", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        _read_ahead(self._source)
        try:
            tar_stream = compression.open_decompressed(self._buffered)  # type: ignore[arg-type]
            while not self._stop.is_set():
                chunk = tar_stream.read(CHUNK)
                if not chunk:
                    break
                self._queue.put(chunk)
            while self._buffered.read(CHUNK):  # trailing bytes after the compressed stream count too
                pass
            self._queue.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def readview(self, limit: int) -> memoryview:
        """Up to `limit` next bytes as a view of the producer's chunk, nothing copied (empty at the end).

        Why: the applier writes file content straight from these views; chunks are immutable, so a
        view stays valid after later reads.
        """
        while not self._pending:
            if self._eof:
                return self._pending
            item = self._queue.get()
            if item is None:
                self._eof = True
                self.verify()
                return self._pending
            if isinstance(item, BaseException):
                self._eof = True
                if isinstance(item, ImgtoolError):
                    raise item
                raise LayerError(f"cannot read layer: {item}") from item
            if self._diff_hasher is not None:
                self._diff_hasher.update(item)
            self._pending = memoryview(item)
        view = self._pending[:limit]
        self._pending = self._pending[len(view):]
        return view

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = self.readview(len(buffer))
        buffer[:len(view)] = view
        return len(view)

    @property
    def blob_read(self) -> int:
        """Bytes of the blob consumed so far (progress displays poll it from their own thread)."""
        return self._counted.count

    def drain(self) -> None:
        """Consume what the tar reader left (padding, trailing junk): it is part of the DiffID."""
        while self.read(CHUNK):
            pass

    def verify(self) -> Digest:
        """Check digest, size and DiffID once drained; returns the DiffID."""
        if self._diff_id is not None:
            return self._diff_id
        if not self._eof:
            raise LayerError("layer stream verified before it was read to the end")
        self._thread.join()
        if self.trusted:  # the memo vouches for both digests (module docstring); the size is still checked
            check_blob(self.descriptor, self._counted.count, self.descriptor.digest)  # type: ignore[union-attr]
            self._diff_id = self.expected_diff_id
            return self._diff_id  # type: ignore[return-value]
        if self.descriptor is not None:
            check_blob(self.descriptor, self._counted.count, self._counted.digest)
        diff_id = Digest(self._diff_hasher.name, self._diff_hasher.hexdigest())
        if self.expected_diff_id is not None and diff_id != self.expected_diff_id:
            raise LayerError(f"layer diff_id mismatch: expected {self.expected_diff_id}, got {diff_id}")
        self._diff_id = diff_id
        return diff_id

    def close(self) -> None:
        """Stop the producer (it may be blocked on a full queue), wait for it, close the source."""
        if self.closed:
            return
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._source.close()
        super().close()
