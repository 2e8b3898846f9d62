"""Docker's SIZE of an image: the content bytes of its layers' regular files, learned once per layer.

`docker images` reports what an image occupies unpacked, not the compressed bytes a registry sends.
That figure needs one read of each layer, which `imgtool images` must not pay on every call, so it
is kept per DiffID under `$ROOT/sizes/` the first time it is asked for. A DiffID names the same
bytes forever, so an entry never goes stale; a missing or unreadable entry is just measured again.
Hardlinks count once and whiteouts not at all, as in the inspector's per-layer sizes
(imgtool.inspect), so `images`, `history` and `inspect --layers` agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgtool import atomicfile

from .store import Store

if TYPE_CHECKING:
    from imgtool.layer.layer import Layer

    from .image import Image


def layer_content_size(store: Store, layer: Layer) -> int:
    """Bytes of regular-file content in one layer, from the cache or measured (and cached) now."""
    cache = store.path / "sizes" / layer.diff_id.encoded
    try:
        return int(cache.read_text())
    except (OSError, ValueError):
        pass
    import tarfile  # only to measure: a listing of cached sizes imports no tar reader

    from imgtool.layer.reader import LayerReader

    reader = LayerReader(layer.open_uncompressed(), f"layer {layer.digest}")
    size = sum(member.size for member in reader if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE))
    cache.parent.mkdir(exist_ok=True)
    atomicfile.write_bytes(cache, str(size).encode(), durable=False)
    return size


def image_content_size(store: Store, image: Image) -> int:
    """The sum over an image's layers: docker's SIZE column."""
    return sum(layer_content_size(store, layer) for layer in image.layers)
