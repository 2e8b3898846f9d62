"""Compose images from parts: layers appended to an image in progress, then config, manifest, name.

The builder, `import` and `load` all end here, so an image is always written the same way: blobs
first (verified), then config, then manifest, then the name, under the store's writer lock so a
concurrent prune cannot take the blobs before the name reaches them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Iterable, Sequence

from imgtool.frozen import frozen
from imgtool.layer.compression import Compression
from imgtool.layer.layer import Layer
from imgtool.oci import canonical, mediatype, reference, schema
from imgtool.oci.config import History, ImageConfig, parse_config
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import of_bytes
from imgtool.oci.manifest import Manifest

from .image import Image
from .store import Store

if TYPE_CHECKING:
    from imgtool.layer.entries import Entry

# layer/writer.py (with tarfile) is imported where a layer is written: a fully cached build writes
# none, and the import was ~1 ms of it


def timestamp(epoch: int | None = None) -> str:
    """RFC 3339 UTC time for `created` fields: SOURCE_DATE_EPOCH when set, else now."""
    if epoch is None:
        from imgtool.layer import writer

        epoch = writer.source_date_epoch()
    seconds = int(time.time()) if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def add_layer(store: Store, entries: Iterable[Entry], kind: Compression = Compression.GZIP,
              epoch: int | None = None) -> Layer:
    """Write entries as a layer blob into the store; returns the layer, opened from the store."""
    from imgtool.layer import writer
    from imgtool.layer.verify import TRUST_MEMO, trust_key

    with store.blob_writer() as blob:
        layer = writer.write_layer(entries, blob, kind, epoch)  # type: ignore[arg-type]
        blob.commit(layer.digest, layer.size)
    # both digests were computed from the bytes just written: unpack may trust the pair (verify.py)
    store.validated.remember(TRUST_MEMO, trust_key(layer.descriptor, layer.diff_id))
    return store.layer(layer.descriptor, layer.diff_id)


@frozen
class PendingImage:
    """An image being made: its config (diff_ids and history included) and its layers, kept in step.

    Why one object: the config's diff_ids, its history and the manifest's layers must change
    together; `append` is the only way to add a step, so they cannot drift apart.
    """

    config: ImageConfig
    layers: tuple[Layer, ...] = ()

    @classmethod
    def from_image(cls, image: Image) -> "PendingImage":
        """Start from an image in the store (a build's base), its layers reused as they are."""
        return cls(image.config, image.layers)

    def append(self, layer: Layer | None, history: History) -> "PendingImage":
        """One more step; `layer=None` records a metadata-only step (`empty_layer` in the history)."""
        if layer is None:
            history = dataclasses.replace(history, empty_layer=True)
            return dataclasses.replace(self, config=dataclasses.replace(
                self.config, history=self.config.history + (history,)))
        config = dataclasses.replace(self.config, diff_ids=self.config.diff_ids + (layer.diff_id,),
                                     history=self.config.history + (history,))
        return PendingImage(config, self.layers + (layer,))

    def write(self, store: Store, names: Iterable[str] = (),
              annotations: dict[str, str] | None = None) -> Descriptor:
        """Write the config and manifest and name the image (its layers are in the store already)."""
        return write_image(store, self.config.to_bytes(), self.layers, names, annotations)


def document_bytes(store: Store, doc: dict, schema_name: str, what: str) -> bytes:
    """The canonical bytes of a document about to be written, validated once per content.

    Why: a rebuild that changes nothing produces byte-identical config and manifest; the store's
    memo (store/validated.py) knows those bytes passed, so only a new document pays for a schema
    pass (and the jsonschema import).
    """
    data = canonical.dumps(doc)
    schema.validate_bytes(doc, data, schema_name, what, store.validated)
    return data


def write_image(store: Store, config_bytes: bytes, layers: Sequence[Layer],
                names: Iterable[str] | None = (), annotations: dict[str, str] | None = None) -> Descriptor:
    """Write config and manifest blobs and name the image; the layers must be in the store already.

    No names keeps the image as `<none>`; `names=None` leaves index.json alone (the caller names
    several images at once with `Store.name`). The config is passed as bytes (`ImageConfig.to_bytes()`,
    or a config read from elsewhere kept byte for byte so its digest, docker's image ID, survives).
    An image that is already stored under every one of `names` is left as it is: index.json is not
    rewritten (a fully cached rebuild changes nothing on disk).
    """
    parse_config(config_bytes, "config", store.validated)  # checked (once) and in the memo as written
    config_desc = Descriptor(mediatype.OCI_CONFIG, store.write_blob(config_bytes), len(config_bytes))
    manifest = Manifest(config=config_desc, layers=tuple(layer.descriptor for layer in layers),
                        annotations=dict(annotations or {}))
    data = document_bytes(store, manifest.to_dict(), schema.MANIFEST, "manifest")
    if names is None:
        return store.put_manifest(data)
    names = list(names)
    if names and store.has_blob(of_bytes(data)):
        descriptor = Descriptor(manifest.media_type, of_bytes(data), len(data))
        if _named(store, descriptor, names):
            return descriptor
    return store.add_manifest(data, names)


def _named(store: Store, descriptor: Descriptor, names: list[str]) -> bool:
    """Whether every name already points at this manifest."""
    wanted = {str(reference.parse(n)) for n in names}
    have = {e.normalized for e in store.images()
            if e.descriptor.digest == descriptor.digest and e.descriptor.media_type == descriptor.media_type}
    return wanted <= have
