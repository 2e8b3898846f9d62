"""The layer reader: any layer blob -> validated tar members, with the diff_id computed on the way.

Names are checked as they are read (`..` and absolute paths are refused), so every consumer (import,
load, inspect) sees only members that stay inside the root. Extraction to disk is the runtime's job
(imgtool.runtime), which adds the in-root path resolution that a filesystem needs.
"""

from __future__ import annotations

import io
import tarfile
from typing import BinaryIO, Iterator

from imgtool.errors import LayerError
from imgtool.oci.digest import Digest

from . import compression
from .tee import TeeReader
from .entries import clean_name


class _Located(io.RawIOBase):
    """Prefixes the layer's (or member's) name to errors raised while reading it: a decompressor's
    LayerError, or the TarError of an archive that ends in the middle of a member."""

    def __init__(self, inner: BinaryIO, what: str):
        self.inner = inner
        self.what = what

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        """Straight from `inner` (no buffer allocated per call: members are often tiny)."""
        try:
            return self.inner.read(size)
        except LayerError as exc:
            raise LayerError(f"{self.what}: {exc}") from None
        except (tarfile.TarError, EOFError) as exc:
            raise LayerError(f"{self.what}: corrupt tar: {exc}") from None

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class LayerReader:
    """Iterate a layer's members in order; `extractfile` gives the current member's content.

    After iteration, `diff_id` is the digest of the whole uncompressed tar (padding included).
    With `copy_to`, every uncompressed byte is also written there: re-compressing a layer while
    validating it is one pass.
    """

    def __init__(self, stream: BinaryIO, what: str = "layer", copy_to: BinaryIO | io.RawIOBase | None = None):
        self.what = what
        self._hashing = TeeReader(_Located(compression.open_decompressed(stream), what), "sha256", copy_to)
        self._buffered = io.BufferedReader(self._hashing, 1 << 20)
        try:
            self._tar = tarfile.open(fileobj=self._buffered, mode="r|", encoding="utf-8",
                                     errors="surrogateescape")
        except tarfile.TarError as exc:
            raise LayerError(f"{what}: not a tar archive ({exc})") from None
        self._done = False

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        try:
            for member in self._tar:
                member.name = self._clean(member.name) or "."
                if member.islnk():
                    member.linkname = self._clean(member.linkname)
                yield member
        except (tarfile.TarError, EOFError) as exc:
            raise LayerError(f"{self.what}: corrupt tar: {exc}") from None
        self._drain()

    def _clean(self, name: str) -> str:
        try:
            return clean_name(name)
        except LayerError as exc:
            raise LayerError(f"{self.what}: {exc}") from None

    def extractfile(self, member: tarfile.TarInfo) -> BinaryIO:
        """The content of the member the iteration is at (regular files only)."""
        f = self._tar.extractfile(member)
        if f is None:
            raise LayerError(f"{self.what}: {member.name} has no content")
        return _Located(f, f"{self.what}: {member.name}")  # type: ignore[arg-type, return-value]

    def _drain(self) -> None:
        while self._buffered.read(1 << 20):
            pass
        self._done = True

    @property
    def diff_id(self) -> Digest:
        """Digest of the uncompressed tar; valid once iteration has finished."""
        if not self._done:
            raise RuntimeError("diff_id is known only after the whole layer was read")
        return self._hashing.digest

    @property
    def tar_size(self) -> int:
        """Bytes of the uncompressed tar; valid once iteration has finished."""
        return self._hashing.count


def diff_id_of(stream: BinaryIO, what: str = "layer", copy_to: BinaryIO | io.RawIOBase | None = None) -> Digest:
    """Read a whole layer, validating every member name, and return its diff_id."""
    reader = LayerReader(stream, what, copy_to)
    for _ in reader:
        pass
    return reader.diff_id
