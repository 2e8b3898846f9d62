"""The one image source/destination shape every transport implements (go-containerregistry's v1.Image
seen from both ends), and the verified stream every copied blob passes through.

A source hands out the root document (manifest or index, bytes kept exactly), child manifests and
blob streams; a destination takes blobs (skipping what it has), manifests, and a final `commit` that
names the result. The copy routine (`copy.py`) is the only thing that moves data between them, so
pull, push, save, load and copy share its verification, parallelism and progress. Every blob
stream a destination reads is a `VerifiedBlob`: it cannot commit bytes that do not match.
"""

from __future__ import annotations

import io
import queue
import threading
from typing import BinaryIO, Callable, Protocol

from imgtool.layer.verify import VerifiedBlob
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.schema import Memo

Opener = Callable[[], BinaryIO]
OnBytes = Callable[[int], None]


class ImageSource(Protocol):
    """Where an image comes from."""

    what: str  # how the user named it, for messages
    memo: Memo | None  # the store's schema memo when the source is the store (its documents passed)

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
    verifies: bool  # True: put_blob checks digest and size itself (and gets the raw stream)
    memo: Memo | None  # the store's schema memo when the destination is the store

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


def pump(source: BinaryIO, write: Callable[[memoryview], object], on_bytes: OnBytes, size: int | None = None,
         chunk: int = 1 << 20) -> int:
    """Copy a stream to `write` with reading and writing on two threads (network or disk reads
    overlap hashing and disk writes; each releases the GIL). Returns the bytes copied. A stream
    expected to fit in one chunk (`size`) is copied on this thread: nothing to overlap."""
    if size is not None and size < chunk:
        buf = bytearray(size + 1)  # one byte more than expected: a longer stream is seen, and refused
        view, total = memoryview(buf), 0
        while total < len(buf) and (n := source.readinto(view[total:])):
            total += n
        write(view[:total])
        on_bytes(total)
        return total
    chunks: queue.Queue[bytearray | BaseException | None] = queue.Queue(4)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                buf = bytearray(chunk)
                n = source.readinto(buf)
                if not n:
                    break
                del buf[n:]
                chunks.put(buf)
            chunks.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            chunks.put(exc)

    reader = threading.Thread(target=produce, name="blob-read", daemon=True)
    reader.start()
    total = 0
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            write(memoryview(item))
            total += len(item)
            on_bytes(len(item))
    finally:
        stop.set()
        while reader.is_alive():  # unblock a producer waiting on a full queue
            try:
                chunks.get_nowait()
            except queue.Empty:
                reader.join(0.05)
    return total


def verified(inner: BinaryIO, descriptor: Descriptor) -> BinaryIO:
    """`inner` checked against the descriptor (digest and size, raising at end of stream), buffered."""
    return io.BufferedReader(VerifiedBlob(inner, descriptor), 1 << 20)  # type: ignore[return-value]
