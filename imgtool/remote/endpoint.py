"""The one image source/destination shape every transport implements (go-containerregistry's v1.Image
seen from both ends), and the verified stream every copied blob passes through.

A source hands out the root document (manifest or index, bytes kept exactly), child manifests and
blob streams; a destination takes blobs (skipping what it has), manifests, and a final `commit` that
names the result. The copy routine (`copy.py`) is the only thing that moves data between them, so
pull, push, save, load and copy share its verification, parallelism and progress.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Callable, Protocol

from imgtool.errors import DigestMismatchError
from imgtool.oci.descriptor import Descriptor

Opener = Callable[[], BinaryIO]
OnBytes = Callable[[int], None]


class ImageSource(Protocol):
    """Where an image comes from."""

    what: str  # how the user named it, for messages

    def root(self) -> tuple[bytes, str]:
        """The manifest or index the source names: exact bytes and media type."""

    def manifest(self, descriptor: Descriptor) -> bytes:
        """A manifest an index points to (the caller verifies the digest)."""

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """A config or layer stream (the caller verifies digest and size)."""

    def close(self) -> None:
        """Release connections and scratch space."""


class ImageDestination(Protocol):
    """Where an image goes. Nothing is named before `commit`."""

    what: str

    def has_blob(self, descriptor: Descriptor) -> bool:
        """True when the blob need not be sent."""

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        """Store a blob from a verified stream; returns how ("copied", "mounted")."""

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        """Store a manifest an index points to (its blobs are already there)."""

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        """Store the root document and name it; the copy is complete after this."""

    def close(self) -> None:
        """Finish or, without a commit, discard everything written."""


class VerifiedReader(io.RawIOBase):
    """Passes a blob through, raising at its end unless digest and size match the descriptor.

    The check fires when the reader sees end of stream (or more bytes than announced), so a consumer
    that reads to the end cannot commit unverified bytes.
    """

    def __init__(self, inner: BinaryIO, descriptor: Descriptor, what: str):
        self.inner = inner
        self.descriptor = descriptor
        self.what = what
        self.hasher = descriptor.digest.hasher()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        if not data:
            self._check()
            return 0
        self.hasher.update(data)
        self.size += len(data)
        if self.size > self.descriptor.size:
            raise DigestMismatchError(f"{self.what}: blob {self.descriptor.digest} is larger than "
                                      f"its {self.descriptor.size} bytes")
        n = len(data)
        buffer[:n] = data
        return n

    def _check(self) -> None:
        d = self.descriptor
        if self.size != d.size:
            raise DigestMismatchError(f"{self.what}: blob {d.digest} has {self.size} bytes, {d.size} expected")
        if self.hasher.hexdigest() != d.digest.encoded:
            raise DigestMismatchError(f"{self.what}: blob {d.digest}: content digest is "
                                      f"{d.digest.algorithm}:{self.hasher.hexdigest()}")

    def close(self) -> None:
        self.inner.close()
        super().close()


def verified(inner: BinaryIO, descriptor: Descriptor, what: str) -> BinaryIO:
    """`inner` wrapped in a VerifiedReader, buffered for large reads."""
    return io.BufferedReader(VerifiedReader(inner, descriptor, what), 1 << 20)
