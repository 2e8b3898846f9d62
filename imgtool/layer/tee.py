"""Streams that count, hash and copy what passes through: the taps of every one-pass pipeline.

A layer's identities (compressed digest and size, diff_id) are computed while its bytes move, never
by a second read; these two wrappers are how, on the reading and on the writing side.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from imgtool.oci.digest import Digest, new_hasher


class TeeReader(io.RawIOBase):
    """Reads from `raw`; counts the bytes, hashes them (when `algorithm` is given), copies them to `copy_to`."""

    def __init__(self, raw: BinaryIO, algorithm: str | None = None, copy_to: BinaryIO | io.RawIOBase | None = None):
        self.raw = raw
        self.hasher = new_hasher(algorithm) if algorithm else None
        self.copy_to = copy_to
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.hasher is not None:
            self.hasher.update(data)
        if self.copy_to is not None:
            self.copy_to.write(data)
        return n

    @property
    def digest(self) -> Digest:
        """Digest of everything read so far."""
        assert self.hasher is not None, "TeeReader made without an algorithm"
        return Digest(self.hasher.name, self.hasher.hexdigest())


class TeeWriter(io.RawIOBase):
    """Writes to `out`; counts and sha256-hashes the bytes on the way."""

    def __init__(self, out: BinaryIO | io.RawIOBase):
        self.out = out
        self.hasher = new_hasher()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.hasher.update(data)
        self.count += len(data)
        self.out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.count

    @property
    def digest(self) -> Digest:
        """Digest of everything written so far."""
        return Digest(self.hasher.name, self.hasher.hexdigest())
