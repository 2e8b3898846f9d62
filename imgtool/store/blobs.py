"""Content-addressed blob files: streamed, hashed, verified, then committed atomically.

The primitive shared by the local store and the registry's filesystem backend. A blob becomes visible
at `blobs/<alg>/<encoded>` only after its bytes are on disk (fsync), its digest and size are checked,
and a hard link publishes it; an existing blob is never rewritten, so two writers of the same content
race harmlessly and a reader can never see a partial file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from imgtool.atomicfile import WRITEBACK_EVERY, publish, start_writeback
from imgtool.errors import DigestMismatchError, StoreError
from imgtool.oci.digest import CANONICAL, Digest, new_hasher

_CHUNK = 1 << 20


def blob_path(blobs_root: Path, digest: Digest) -> Path:
    """Where a blob lives under a `blobs/` directory (`<alg>/<encoded>`)."""
    return blobs_root / digest.algorithm / digest.encoded


class BlobWriter:
    """Write a blob as a stream; `commit()` verifies and publishes it, anything else discards it.

    Use as a context manager: leaving the block without `commit()` (or by an exception) removes the
    temporary file, so nothing half-written is ever left behind under `blobs/`.
    """

    def __init__(self, blobs_root: Path, algorithm: str = CANONICAL, tmp_dir: Path | None = None):
        self.blobs_root = Path(blobs_root)
        tmp_dir = Path(tmp_dir) if tmp_dir else self.blobs_root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self._hasher = new_hasher(algorithm)
        self._algorithm = algorithm
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        self.tmp_path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.size = 0
        self._synced = False  # nothing written since the last sync()
        self._written_back = 0  # offset up to which the kernel was asked to start writeback

    def write(self, data: bytes) -> int:
        """Append bytes (hashed as they pass)."""
        assert self._file is not None, "blob writer already closed"
        self._file.write(data)
        self._hasher.update(data)
        self.size += len(data)
        self._synced = False
        if self.size - self._written_back >= WRITEBACK_EVERY:  # the final fsync then waits for the tail only
            self._file.flush()
            start_writeback(self._file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size
        return len(data)

    def copy_from(self, stream: BinaryIO) -> int:
        """Append everything a stream yields; returns the number of bytes copied."""
        total = 0
        while chunk := stream.read(_CHUNK):
            total += self.write(chunk)
        return total

    @property
    def digest(self) -> Digest:
        """Digest of the bytes written so far."""
        return Digest(self._algorithm, self._hasher.hexdigest())

    def sync(self) -> None:
        """Flush and fsync what is written so far, so a later `commit()` is little more than the
        link: a caller moving many blobs pays for durability on its worker threads, overlapped."""
        assert self._file is not None, "blob writer already closed"
        self._file.flush()
        os.fsync(self._file.fileno())
        self._synced = True

    def commit(self, expected: Digest | None = None, expected_size: int | None = None,
               sync_dir: bool = True) -> Digest:
        """Verify against `expected` (digest and size, when given), fsync (unless `sync()` already
        did and nothing was written since) and publish; `sync_dir` as in `publish`."""
        assert self._file is not None, "blob writer already closed"
        actual = self.digest
        if expected is not None and expected != actual:
            self.abort()
            raise DigestMismatchError(f"blob digest {actual} does not match expected {expected}")
        if expected_size is not None and expected_size != self.size:
            self.abort()
            raise DigestMismatchError(f"blob {actual} is {self.size} bytes, expected {expected_size}")
        if not self._synced:
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        publish(self.tmp_path, blob_path(self.blobs_root, actual), sync_dir)
        return actual

    def abort(self) -> None:
        """Discard the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self.abort()


def write_bytes(blobs_root: Path, data: bytes, expected: Digest | None = None) -> Digest:
    """Store an in-memory blob (manifests, configs) through the same verified path."""
    with BlobWriter(blobs_root, expected.algorithm if expected else CANONICAL) as writer:
        writer.write(data)
        return writer.commit(expected)


def verify_file(path: Path, digest: Digest) -> None:
    """Re-hash a stored blob; raises if it was corrupted on disk."""
    hasher = digest.hasher()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
    except FileNotFoundError:
        raise StoreError(f"blob {digest} is missing from {path.parent.parent.parent}") from None
    if hasher.hexdigest() != digest.encoded:
        raise DigestMismatchError(f"blob {digest} on disk is corrupt (digest sha mismatch at {path})")
