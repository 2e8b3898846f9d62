"""Validation against the OCI image-spec JSON schemas, which ship inside the package.

The schema files are the image-spec's own (draft-04, `schemas/`, Apache-2.0). Their `$ref`s name
sibling files relative to whatever `id` is in scope, so references are resolved by file name from the
package, never over the network.

A `Memo` lets a reader skip documents that already passed: the store keeps one (store/validated.py)
so reading its own blobs does not import jsonschema (~60 ms) on every command, and documents that
pass a check compiled from the same files (schemacheck.py) do not import it either.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from imgtool.errors import SchemaError

from . import mediatype

if TYPE_CHECKING:  # jsonschema costs ~60 ms to import: only commands that validate pay for it
    import jsonschema
    from referencing import Resource

MANIFEST = "image-manifest-schema.json"
INDEX = "image-index-schema.json"
CONFIG = "config-schema.json"
LAYOUT = "image-layout-schema.json"
DESCRIPTOR = "content-descriptor.json"

_BY_MEDIA_TYPE = {
    **{m: MANIFEST for m in mediatype.MANIFESTS},
    **{m: INDEX for m in mediatype.INDEXES},
    **{m: CONFIG for m in mediatype.CONFIGS},
}


_SCHEMAS = Path(__file__).with_name("schemas")


@functools.cache
def _load(name: str) -> dict[str, Any]:
    # a plain file read: importlib.resources costs ~5 ms to import, and the package is never zipped
    return json.loads((_SCHEMAS / name).read_text())


def _retrieve(uri: str) -> Resource:
    from referencing import Resource
    from referencing.jsonschema import DRAFT4

    name = PurePosixPath(uri.split("#", 1)[0]).name
    try:
        return Resource.from_contents(_load(name), default_specification=DRAFT4)
    except FileNotFoundError:
        raise LookupError(uri) from None


@functools.cache
def validator(name: str) -> jsonschema.Draft4Validator:
    """A compiled validator for one of the bundled schema files (cached: schemas never change)."""
    return validator_for(_load(name))


# The base URIs the bundled schemas' `$ref`s resolve against (their `id`s: .../schema/image/manifest,
# .../schema/descriptor), so every file is registered under each before the first lookup.
_BASES = ("https://opencontainers.org/schema/image/", "https://opencontainers.org/schema/")


@functools.cache
def _registry():  # type: ignore[no-untyped-def]
    """Every bundled schema file, registered and crawled once. Why: a `$ref` that misses the
    registry makes referencing retrieve and crawl again on every lookup of every validation
    (10-100 ms per document under load); found here, a lookup is a dict hit (< 1 ms)."""
    from referencing import Registry

    names = sorted(p.name for p in _SCHEMAS.iterdir() if p.name.endswith(".json"))
    bundled = [(base + name, _retrieve(name)) for base in _BASES for name in names]
    return Registry(retrieve=_retrieve).with_resources(bundled).crawl()  # type: ignore[call-arg]


def validator_for(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    """A validator for `schema` whose relative `$ref`s resolve to the bundled files."""
    import jsonschema

    return jsonschema.Draft4Validator(schema, registry=_registry())


def schema_for(media_type: str) -> str:
    """Which schema file governs a media type (manifests, indexes and configs only)."""
    try:
        return _BY_MEDIA_TYPE[media_type]
    except KeyError:
        raise SchemaError(f"no schema for media type {media_type!r}") from None


@functools.cache
def _quick(name: str):  # type: ignore[no-untyped-def]
    from .schemacheck import compile_file

    return compile_file(name, _load)


def validate(doc: Any, name: str, what: str) -> None:
    """Raise a one-line SchemaError naming the first failing field of `doc` against schema `name`.

    A document the jsonschema-free check (schemacheck.py) passes is valid; any other goes to
    jsonschema, which names the field (and, should the two disagree, decides)."""
    quick = _quick(name)
    if quick is not None and quick(doc):
        return
    from jsonschema.exceptions import best_match

    error = best_match(validator(name).iter_errors(doc))
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        field = path.lstrip(".") or "(top level)"
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise SchemaError(f"{what}: {field}: {message}")


class Memo(Protocol):
    """Which exact documents already passed which schema, keyed by the SHA-256 of their bytes."""

    def seen(self, schema_name: str, sha256_hex: str) -> bool:
        """True if bytes with this SHA-256 passed `schema_name` before."""

    def remember(self, schema_name: str, sha256_hex: str) -> None:
        """Record that bytes with this SHA-256 passed `schema_name`."""


def memo_key(data: bytes) -> str:
    """The key a Memo files a document under: the SHA-256 of its bytes, whatever digest names it."""
    return hashlib.sha256(data).hexdigest()


def validate_bytes(doc: Any, data: bytes, name: str, what: str, memo: Memo | None = None) -> None:
    """`validate` the document parsed from `data`, unless `memo` saw these very bytes pass `name`.

    Why skipping is sound: the key is the hash of the bytes in hand (never a file name or a digest
    someone claims), and bytes that passed a schema once pass it forever. So a document another
    tool put into a layout (skopeo, umoci) is validated on its first read, and never again.
    """
    if memo is None:
        validate(doc, name, what)
        return
    key = memo_key(data)
    if memo.seen(name, key):
        return
    validate(doc, name, what)
    memo.remember(name, key)
