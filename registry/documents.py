"""Manifest documents as the registry accepts them: bounded JSON, the image-spec schema, a summary.

Pushed manifests are hostile input. Python's JSON decoder happily builds a 4,000-digit integer or a
list nested 900 deep, and the schema validator then recurses or burns seconds on them; here both are
refused as MANIFEST_INVALID before validation. The image-spec's JSON schema asks for at least one
layer (`minItems: 1`) where its prose says only SHOULD, and the conformance suite pushes an image
with `"layers": []`: the registry validates against the schema minus that one constraint.
Everything here is pure and CPU-bound, so handlers run it off the event loop.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from dataclasses import dataclass
from typing import Any

from imgtool.errors import ImgtoolError, SchemaError
from imgtool.oci import canonical, mediatype, schema
from imgtool.oci.digest import Digest
from imgtool.oci.manifest import Index, Manifest, references

from .errors import RegistryError

MAX_DEPTH = 64  # real manifests nest about 5 deep (manifest > layers > descriptor > annotations)
MAX_INT_DIGITS = 40  # int64 sizes need 19; anything this long is an attack, not a size


@dataclass(frozen=True)
class Described:
    """What the registry needs to know about a valid manifest or index."""

    media_type: str
    blobs: list[Digest]  # blobs that must be in the repository (config and layers without urls)
    children: list[Digest]  # everything it references (for GC), blobs and child manifests alike
    subject: Digest | None
    artifact_type: str | None
    annotations: dict[str, str]


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits")
    return int(text)


def _depth(doc: Any) -> int:
    """Nesting depth of decoded JSON, computed without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def load(data: bytes) -> dict[str, Any]:
    """Decode a manifest body: strict JSON (RFC 8259, as the OCI specs require: UTF-8, no BOM, no
    NaN/Infinity), an object, with bounded integers and nesting; else MANIFEST_INVALID."""
    try:  # imgtool's own strict JSON (UTF-8 without a BOM, no NaN): what the client accepts too
        doc = canonical.loads(data, "manifest", parse_int=_bounded_int)
    except SchemaError as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)[:300]) from None
    if not isinstance(doc, dict):
        raise RegistryError("MANIFEST_INVALID", "a manifest must be a JSON object")
    if _depth(doc) > MAX_DEPTH:
        raise RegistryError("MANIFEST_INVALID", f"JSON nested deeper than {MAX_DEPTH} levels")
    return doc


@functools.cache
def _manifest_validator() -> Any:
    """The image-manifest schema without `layers.minItems` (prose: SHOULD, not MUST)."""
    relaxed = copy.deepcopy(schema.validator(schema.MANIFEST).schema)
    relaxed["properties"]["layers"].pop("minItems", None)
    return schema.validator_for(relaxed)


def _validate(doc: dict[str, Any], validator: Any) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise RegistryError("MANIFEST_INVALID", f"{field.lstrip('.') or '(top level)'}: {error.message[:200]}")


def sniff(doc: dict[str, Any]) -> str:
    """The media type a document declares, or implies for OCI documents without `mediaType`."""
    declared = doc.get("mediaType")
    if declared is None:
        return mediatype.OCI_INDEX if "manifests" in doc else mediatype.OCI_MANIFEST
    if not isinstance(declared, str):
        raise RegistryError("MANIFEST_INVALID", "mediaType: must be a string")
    return declared


def describe(media_type: str, doc: dict[str, Any]) -> Described:
    """Validate a decoded manifest or index pushed as `media_type`; MANIFEST_INVALID if it is not one."""
    if mediatype.is_manifest(media_type):
        _validate(doc, _manifest_validator())
    elif mediatype.is_index(media_type):
        _validate(doc, schema.validator(schema.INDEX))
    else:
        raise RegistryError("MANIFEST_INVALID", f"unsupported manifest media type {media_type[:100]!r}")
    if sniff(doc) != media_type:
        raise RegistryError("MANIFEST_INVALID", f"document is {sniff(doc)[:100]}, not {media_type}")
    try:
        typed: Manifest | Index = (Manifest if mediatype.is_manifest(media_type) else Index).from_dict(doc)
    except ImgtoolError as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    referenced = references(typed)
    if isinstance(typed, Manifest):  # an index's children need not be in the repository (spec: MAY)
        blobs = [d.digest for d in referenced if not d.urls]
        artifact_type = typed.artifact_type or typed.config.media_type
    else:
        blobs, artifact_type = [], typed.artifact_type
    subject = typed.subject.digest if typed.subject else None
    children = [d.digest for d in referenced]
    return Described(media_type, blobs, children, subject, artifact_type, dict(typed.annotations))


_SAMPLE_DESCRIPTOR = {"mediaType": "application/octet-stream", "size": 0, "annotations": {"a": "b"},
                      "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}


def warm_up() -> None:
    """Build both validators and run each once over a document that reaches every sub-schema, so
    the first manifest pushed after start-up does not pay for importing jsonschema and crawling the
    schemas (50-100 ms: most of a small image's push to a freshly started registry)."""
    descriptor = {**_SAMPLE_DESCRIPTOR, "urls": ["https://example.com/x"]}
    parse(mediatype.OCI_MANIFEST, json.dumps({
        "schemaVersion": 2, "mediaType": mediatype.OCI_MANIFEST, "config": descriptor, "layers": [descriptor],
        "subject": descriptor, "annotations": {"a": "b"}}).encode())
    parse(mediatype.OCI_INDEX, json.dumps({
        "schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "subject": descriptor, "annotations": {"a": "b"},
        "manifests": [{**descriptor, "platform": {"architecture": "amd64", "os": "linux"}}]}).encode())
    with contextlib.suppress(RegistryError):  # and the error path (best_match)
        describe(mediatype.OCI_MANIFEST, {"schemaVersion": 2})


def parse(media_type: str, data: bytes) -> Described:
    """`load` then `describe`: the whole check of a pushed (or stored) manifest body."""
    return describe(media_type, load(data))
