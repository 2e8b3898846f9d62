"""Image manifest and image index (image-spec manifest.md, image-index.md).

`parse_manifest`/`parse_index` are the only way bytes become these objects: JSON decoding, schema
validation and typed construction in one step, each failure one line naming the field.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from imgtool.errors import SchemaError, UnknownMediaTypeError
from imgtool.frozen import frozen

from . import canonical, mediatype, schema
from .descriptor import Descriptor
from .digest import Digest, of_bytes

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"
# containerd's convention for the full name in an index, so `ctr import` keeps registry hosts
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"


def _optional_to_dict(out: dict[str, Any], annotations: dict[str, str], subject: Descriptor | None,
                      artifact_type: str | None) -> dict[str, Any]:
    if annotations:
        out["annotations"] = dict(annotations)
    if subject:
        out["subject"] = subject.to_dict()
    if artifact_type:
        out["artifactType"] = artifact_type
    return out


def _optional_from_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "annotations": dict(d.get("annotations") or {}),
        "subject": Descriptor.from_dict(d["subject"]) if d.get("subject") else None,
        "artifact_type": d.get("artifactType"),
    }


@frozen
class Manifest:
    """An image manifest: one config and an ordered list of layers (base first)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mediatype.OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (schemaVersion 2), optional fields omitted when unset."""
        out = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
        }
        return _optional_to_dict(out, self.annotations, self.subject, self.artifact_type)

    def to_bytes(self) -> bytes:
        """Canonical bytes, validated against the schema before they leave this function."""
        return canonical.validated(self.to_dict(), schema.MANIFEST, "manifest")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        """From schema-validated JSON."""
        return cls(
            config=Descriptor.from_dict(d["config"]),
            layers=tuple(Descriptor.from_dict(x) for x in d.get("layers", ())),
            media_type=d.get("mediaType", mediatype.OCI_MANIFEST),
            **_optional_from_dict(d),
        )


@frozen
class Index:
    """An image index (or Docker manifest list): descriptors of manifests, e.g. one per platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mediatype.OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (schemaVersion 2), optional fields omitted when unset."""
        out = {"schemaVersion": 2, "mediaType": self.media_type, "manifests": [m.to_dict() for m in self.manifests]}
        return _optional_to_dict(out, self.annotations, self.subject, self.artifact_type)

    def to_bytes(self) -> bytes:
        """Canonical bytes, validated against the schema."""
        return canonical.validated(self.to_dict(), schema.INDEX, "index")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Index":
        """From schema-validated JSON."""
        return cls(
            manifests=tuple(Descriptor.from_dict(x) for x in d.get("manifests", ())),
            media_type=d.get("mediaType", mediatype.OCI_INDEX),
            **_optional_from_dict(d),
        )


def _parse(data: bytes, name: str, what: str, memo: schema.Memo | None) -> dict[str, Any]:
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict):
        raise SchemaError(f"{what}: expected a JSON object")
    schema.validate_bytes(doc, data, name, what, memo)
    return doc


def parse_manifest(data: bytes, what: str = "manifest", memo: schema.Memo | None = None) -> Manifest:
    """Bytes -> Manifest, rejecting invalid JSON, schema failures and non-manifest media types
    (`memo`: bytes it saw pass the schema before are not validated again, schema.validate_bytes)."""
    doc = _parse(data, schema.MANIFEST, what, memo)
    media_type = doc.get("mediaType", mediatype.OCI_MANIFEST)
    if not mediatype.is_manifest(media_type):
        raise UnknownMediaTypeError(f"{what}: mediaType {media_type!r} is not an image manifest")
    return Manifest.from_dict(doc)


def parse_index(data: bytes, what: str = "index", memo: schema.Memo | None = None) -> Index:
    """Bytes -> Index, rejecting invalid JSON, schema failures and non-index media types (`memo`:
    as parse_manifest's)."""
    doc = _parse(data, schema.INDEX, what, memo)
    media_type = doc.get("mediaType", mediatype.OCI_INDEX)
    if not mediatype.is_index(media_type):
        raise UnknownMediaTypeError(f"{what}: mediaType {media_type!r} is not an image index")
    return Index.from_dict(doc)


def parse_document(media_type: str, data: bytes, what: str = "manifest",
                   memo: schema.Memo | None = None) -> Manifest | Index:
    """Bytes of a manifest or an index (as `media_type` says) -> the typed document."""
    if mediatype.is_index(media_type):
        return parse_index(data, what, memo)
    if mediatype.is_manifest(media_type):
        return parse_manifest(data, what, memo)
    raise UnknownMediaTypeError(f"{what}: {media_type!r} is neither an image manifest nor an index")


def references(doc: Manifest | Index) -> tuple[Descriptor, ...]:
    """What a document points to: a manifest's config and layers, an index's manifests.

    The one walk behind the store's reachability and missing-blob checks, archive checks and the
    registry's push and GC. The subject is not included: whether to follow it is each caller's call.
    """
    if isinstance(doc, Index):
        return doc.manifests
    return (doc.config, *doc.layers)


def sniff_media_type(data: bytes, what: str = "document") -> str:
    """The media type a manifest-or-index document declares (or implies, for OCI without one)."""
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict):
        raise SchemaError(f"{what}: expected a JSON object")
    media_type = doc.get("mediaType")
    if media_type is None:
        media_type = mediatype.OCI_INDEX if "manifests" in doc else mediatype.OCI_MANIFEST
    if not isinstance(media_type, str):
        raise SchemaError(f"{what}: mediaType: must be a string")
    return media_type


def descriptor_of(data: bytes, media_type: str, **kwargs: Any) -> Descriptor:
    """A descriptor for in-memory content (sha256 digest and size of exactly these bytes)."""
    return Descriptor(media_type, of_bytes(data), len(data), **kwargs)


__all__ = [
    "ANNOTATION_CREATED", "ANNOTATION_IMAGE_NAME", "ANNOTATION_REF_NAME",
    "Digest", "Index", "Manifest", "descriptor_of", "parse_document", "parse_index", "parse_manifest",
    "references", "sniff_media_type",
]
