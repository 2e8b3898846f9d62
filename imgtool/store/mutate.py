"""Compose images from parts: add a layer blob, write config and manifest, name the result.

The builder, `import` and `load` all end here, so an image is always written the same way: blobs
first (verified), then config, then manifest, then the name, under the store's writer lock so a
concurrent prune cannot take the blobs before the name reaches them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterable

from imgtool.layer import writer
from imgtool.layer.entries import Entry
from imgtool.oci import mediatype
from imgtool.oci.config import History, ImageConfig
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.manifest import Manifest

from .store import Store


def timestamp(epoch: int | None = None) -> str:
    """RFC 3339 UTC time for `created` fields: SOURCE_DATE_EPOCH when set, else now."""
    if epoch is None:
        epoch = writer.source_date_epoch()
    seconds = int(time.time()) if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def add_layer(store: Store, entries: Iterable[Entry], kind: str = "gzip",
              epoch: int | None = None) -> tuple[Descriptor, "writer.LayerResult"]:
    """Write entries as a layer blob into the store; returns its descriptor and identities."""
    with store.blob_writer() as blob:
        result = writer.write_layer(entries, blob, kind, epoch)  # type: ignore[arg-type]
        blob.commit(result.digest, result.size)
    return Descriptor(result.media_type, result.digest, result.size), result


def append(config: ImageConfig, layers: tuple[Descriptor, ...], layer: Descriptor | None,
           result: "writer.LayerResult | None", history: History) -> tuple[ImageConfig, tuple[Descriptor, ...]]:
    """A new (config, layers) with one more step; `layer=None` records a metadata-only step."""
    if layer is None or result is None:
        history = dataclasses.replace(history, empty_layer=True)
        return dataclasses.replace(config, history=config.history + (history,)), layers
    return (
        dataclasses.replace(config, diff_ids=config.diff_ids + (result.diff_id,),
                            history=config.history + (history,)),
        layers + (layer,),
    )


def write_image(store: Store, config_bytes: bytes, layers: tuple[Descriptor, ...],
                names: Iterable[str] = (), annotations: dict[str, str] | None = None) -> Descriptor:
    """Write config and manifest blobs and name the image; the layers must be in the store already.

    The config is passed as bytes (`ImageConfig.to_bytes()`, or a config read from elsewhere kept
    byte for byte so its digest, docker's image ID, survives).
    """
    config_desc = Descriptor(mediatype.OCI_CONFIG, store.write_blob(config_bytes), len(config_bytes))
    manifest = Manifest(config=config_desc, layers=layers, annotations=dict(annotations or {}))
    return store.add_manifest(manifest.to_bytes(), list(names))

