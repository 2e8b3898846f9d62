"""The one layer value: a descriptor, its DiffID, and a way to open its bytes (go-containerregistry's
v1.Layer).

The writer makes one, the store hands them out with an image, mutate appends them, the runtime
snapshots them, and the client and inspector read them; nothing else describes a layer. Opening a
layer always yields a verified stream (`imgtool.layer.verify`), so no reader can forget a check.
"""

from __future__ import annotations

import io
from dataclasses import field
from typing import BinaryIO, Callable

from imgtool.errors import LayerError
from imgtool.frozen import frozen
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest, of_bytes

from .compression import Compression, detect, open_decompressed
from .verify import VerifiedBlob, VerifiedLayer

Opener = Callable[[], BinaryIO]


@frozen
class Layer:
    """A layer: its blob's descriptor (what is stored and sent) and its DiffID (what the config lists).

    `opener` returns the raw blob; it is not part of the layer's identity, so two Layers with the
    same descriptor and DiffID are equal wherever their bytes live. A layer just written to a stream
    has none until a store binds it (`Store.layer`).
    """

    descriptor: Descriptor
    diff_id: Digest
    opener: Opener | None = field(default=None, compare=False, repr=False)

    @property
    def digest(self) -> Digest:
        """The compressed blob's digest."""
        return self.descriptor.digest

    @property
    def size(self) -> int:
        """The compressed blob's size in bytes."""
        return self.descriptor.size

    @property
    def media_type(self) -> str:
        """The blob's media type."""
        return self.descriptor.media_type

    @property
    def compression(self) -> Compression:
        """The compression its media type announces."""
        return Compression.of_media_type(self.descriptor.media_type)

    def _open(self) -> BinaryIO:
        if self.opener is None:
            raise LayerError(f"layer {self.digest} has no content to open (it was not stored)")
        return self.opener()

    def open_compressed(self) -> BinaryIO:
        """The blob as stored, checked against the descriptor's digest and size at end of stream."""
        return io.BufferedReader(VerifiedBlob(self._open(), self.descriptor), 1 << 20)  # type: ignore[return-value]

    def open_uncompressed(self, trusted: bool = False) -> VerifiedLayer:
        """The tar stream, checked against media type, digest, size and DiffID at end of stream
        (`trusted`: size and media type only, for a pair the store vouches for: verify.py's policy)."""
        raw = self._open()
        try:
            return VerifiedLayer(raw, self.descriptor, self.diff_id, trusted)
        except BaseException:
            raw.close()
            raise


def from_bytes(blob: bytes, media_type: str | None = None) -> Layer:
    """A layer held in memory, its identities computed from the bytes (tests, small generated layers).

    Why the media type defaults to what the bytes are: a caller that wants a mislabelled layer (to
    test the check) says so explicitly.
    """
    kind = detect(blob[:4])
    diff_id = of_bytes(open_decompressed(io.BytesIO(blob)).read())
    descriptor = Descriptor(media_type or kind.media_type(), of_bytes(blob), len(blob))
    return Layer(descriptor, diff_id, lambda: io.BytesIO(blob))
