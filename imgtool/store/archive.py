"""Image archives: read an OCI archive or a docker-archive into a layout, checked through and
through (`imgtool load` and the archive transports read into a scratch layout with this, then the
copy routine takes the images from there; writing archives is the copy routine's:
`imgtool.remote.tarball`).

An OCI archive is a tar of an OCI image layout; a docker-archive is what `docker save` writes
(`manifest.json` with Config/RepoTags/Layers, uncompressed `layer.tar` files). Archives are hostile
input: member names go through the layer reader's checks, every blob is verified against its digest
or the config's diff_ids before it is named, and nothing is named until everything is stored.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import BinaryIO

from imgtool.errors import DigestMismatchError, ImgtoolError, SchemaError, UnknownMediaTypeError
from imgtool.layer import compression
from imgtool.layer.reader import LayerReader, diff_id_of
from imgtool.oci import mediatype, reference
from imgtool.oci.config import parse_config
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest, of_bytes
from imgtool.oci.manifest import ANNOTATION_REF_NAME, parse_index, parse_manifest, references

from . import blobs, layout, mutate
from .store import Store

_SMALL = 4 << 20  # JSON members of an archive (index, manifests, configs) are never larger


class ArchiveError(ImgtoolError):
    """An archive that is not a well-formed OCI or docker archive."""


# -- load ------------------------------------------------------------------------------------
#
# Two phases: every member is spooled (small ones in memory, large ones as uncommitted blob
# writers), then the whole image graph is checked (digests, schemas, media types, layer tars and
# diff_ids) and only then is anything committed and named. A bad archive leaves the store as it was.

@dataclass
class _Spooled:
    """An archive member kept for the second phase."""

    data: bytes | None
    writer: blobs.BlobWriter | None

    @property
    def digest(self) -> Digest:
        return of_bytes(self.data) if self.data is not None else self.writer.digest  # type: ignore[union-attr]

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.writer is not None and self.writer._file is not None
        self.writer._file.flush()
        return open(self.writer.tmp_path, "rb")


def _spool(reader: LayerReader, store: Store, spooled: dict[str, _Spooled]) -> None:
    for member in reader:
        if not member.isreg():
            continue
        source = reader.extractfile(member)
        if member.size <= _SMALL:
            spooled[member.name] = _Spooled(source.read(), None)
            continue
        writer = store.blob_writer()
        spooled[member.name] = _Spooled(None, writer)
        writer.copy_from(source)


def load(store: Store, stream: BinaryIO, what: str) -> list[str]:
    """Load every image of an OCI archive or docker-archive; returns the names given to them."""
    spooled: dict[str, _Spooled] = {}
    pending: list[blobs.BlobWriter] = []
    with store.writing():
        try:
            _spool(LayerReader(stream, what), store, spooled)
            if layout.INDEX_FILE in spooled and layout.OCI_LAYOUT_FILE in spooled:
                return _load_oci(store, spooled, what)
            if "manifest.json" in spooled:
                return _load_docker(store, spooled, pending, what)
            raise ArchiveError(
                f"{what}: neither an OCI archive (oci-layout, index.json) nor a docker archive (manifest.json)")
        finally:
            for writer in pending + [i.writer for i in spooled.values() if i.writer is not None]:
                writer.abort()


def _blob_of(spooled: dict[str, _Spooled], store: Store, d: Descriptor, what: str) -> _Spooled | None:
    item = spooled.get(f"{layout.BLOBS_DIR}/{d.digest.algorithm}/{d.digest.encoded}")
    if item is None and not store.has_blob(d.digest):
        raise ArchiveError(f"{what}: blob {d.digest} is referenced but not in the archive")
    return item


def _json_of(spooled: dict[str, _Spooled], store: Store, d: Descriptor, what: str) -> bytes:
    item = _blob_of(spooled, store, d, what)
    if item is None:
        return store.read_blob(d.digest)
    if item.data is None:
        raise ArchiveError(f"{what}: {d.media_type} {d.digest} is larger than {_SMALL} bytes")
    return item.data


def _check_oci_graph(store: Store, spooled: dict[str, _Spooled], roots: tuple[Descriptor, ...], what: str) -> None:
    stack = list(roots)
    while stack:
        d = stack.pop()
        if mediatype.is_index(d.media_type):
            stack.extend(references(parse_index(_json_of(spooled, store, d, what), f"{what}: index {d.digest}")))
        elif mediatype.is_manifest(d.media_type):
            m = parse_manifest(_json_of(spooled, store, d, what), f"{what}: manifest {d.digest}")
            config = parse_config(_json_of(spooled, store, m.config, what), f"{what}: config {m.config.digest}")
            if len(config.diff_ids) != len(m.layers):
                raise ArchiveError(f"{what}: manifest {d.digest} has {len(m.layers)} layers for "
                                   f"{len(config.diff_ids)} diff_ids")
            for layer, diff_id in zip(m.layers, config.diff_ids):
                mediatype.layer_compression(layer.media_type)  # unknown layer types are refused
                item = _blob_of(spooled, store, layer, what)
                if item is not None:
                    with item.open() as f:
                        actual = diff_id_of(f, f"{what}: layer {layer.digest}")
                    if actual != diff_id:
                        raise DigestMismatchError(
                            f"{what}: layer {layer.digest}: diff_id {actual} does not match config's {diff_id}")
        else:
            raise UnknownMediaTypeError(f"{what}: index entry {d.digest} has unknown media type {d.media_type!r}")


def _load_oci(store: Store, spooled: dict[str, _Spooled], what: str) -> list[str]:
    index = parse_index(spooled[layout.INDEX_FILE].data or b"", f"{what}: index.json")
    staged: list[tuple[Digest, _Spooled]] = []
    for name, item in spooled.items():
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != layout.BLOBS_DIR:
            continue
        try:
            digest = Digest.parse(f"{parts[1]}:{parts[2]}")
        except ImgtoolError as exc:
            raise ArchiveError(f"{what}: {name}: {exc}") from None
        if item.digest != digest:
            raise DigestMismatchError(f"{what}: {name}: content digest is {item.digest}")
        staged.append((digest, item))
    _check_oci_graph(store, spooled, index.manifests, what)
    plan = [(d, [d.annotations[ANNOTATION_REF_NAME]] if d.annotations.get(ANNOTATION_REF_NAME) else [])
            for d in index.manifests]
    for _, ref_names in plan:  # every name is checked before anything is stored: all or nothing
        for ref_name in ref_names:
            reference.parse(ref_name)
    for digest, item in staged:
        if item.data is not None:
            store.write_blob(item.data, digest)
        else:
            assert item.writer is not None
            item.writer.commit(digest)
            item.writer = None
    named = store.name(plan)
    return [str(d.digest) if not ref_names else str(named.pop(0)) for d, ref_names in plan]


def _load_docker(store: Store, spooled: dict[str, _Spooled], pending: list[blobs.BlobWriter], what: str) -> list[str]:
    try:
        entries = json.loads(spooled["manifest.json"].data or b"")
        assert isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
    except (ValueError, AssertionError):
        raise SchemaError(f"{what}: manifest.json is not a list of image entries") from None
    images = []
    for n, entry in enumerate(entries):
        config_path, layer_paths = entry.get("Config"), entry.get("Layers")
        if not isinstance(config_path, str) or not isinstance(layer_paths, list):
            raise SchemaError(f"{what}: manifest.json[{n}]: needs Config and Layers")
        item = spooled.get(config_path)
        if item is None or item.data is None:
            raise ArchiveError(f"{what}: config {config_path!r} is missing or too large")
        config = parse_config(item.data, f"{what}: {config_path}")
        if len(config.diff_ids) != len(layer_paths):
            raise ArchiveError(f"{what}: {config_path} lists {len(config.diff_ids)} diff_ids for {len(layer_paths)} layers")
        layers = []
        for path, expected in zip(layer_paths, config.diff_ids):
            if not isinstance(path, str) or path not in spooled:
                raise ArchiveError(f"{what}: layer {path!r} named in manifest.json is not in the archive")
            writer = store.blob_writer()
            pending.append(writer)
            packer = compression.compressor(writer, compression.GZIP)  # type: ignore[arg-type]
            with spooled[path].open() as f:
                diff_id = diff_id_of(f, f"{what}: {path}", copy_to=packer)
            packer.close()
            if diff_id != expected:
                raise DigestMismatchError(f"{what}: {path}: diff_id {diff_id} does not match config's {expected}")
            layers.append((writer, store.layer(Descriptor(mediatype.OCI_LAYER_GZIP, writer.digest, writer.size),
                                               diff_id)))
        tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
        for tag in tags:
            reference.parse(tag)
        images.append((item.data, layers, tags))
    plan = []
    for config_bytes, layers, tags in images:
        for writer, layer in layers:
            if writer.tmp_path.exists():
                writer.commit(layer.digest)
        plan.append((mutate.write_image(store, config_bytes, [layer for _, layer in layers], None), tags))
    store.name(plan)  # one index.json update for every image: all named, or none
    return [name for d, tags in plan for name in (tags or [str(d.digest)])]
