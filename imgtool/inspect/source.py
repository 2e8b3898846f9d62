"""The image an inspection reads: manifest, config and a way to open each layer blob.

Inspection needs nothing else, so any place an image lives (the store, an OCI layout directory, an
archive, a registry, a docker engine) only has to fill in an `ImageSource`. The client helper's
`imgtool/remote` sources plug in here; until they land the store and `oci:DIR[:TAG]` are read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.oci.config import ImageConfig
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.manifest import ANNOTATION_REF_NAME, Manifest


@dataclass(frozen=True)
class ImageSource:
    """One single-platform image, wherever it lives: the minimal interface inspection reads."""

    name: str
    descriptor: Descriptor
    manifest: Manifest
    config_bytes: bytes
    config: ImageConfig
    opener: Callable[[Descriptor], BinaryIO] = field(repr=False)
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Docker's image ID: the config digest."""
        return str(self.manifest.config.digest)

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """Layer descriptors, base first."""
        return self.manifest.layers

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """A stream of the blob's bytes (compressed, as stored); the caller verifies what it reads."""
        return self.opener(descriptor)


def open_source(ref: str) -> ImageSource:
    """The image a command-line reference names: `oci:DIR[:TAG]`, else a store name or ID."""
    if ref.startswith("oci:"):
        return _from_layout(ref[len("oci:"):], ref)
    for prefix in ("oci-archive:", "docker-archive:", "docker-daemon:", "docker://"):
        if ref.startswith(prefix):
            raise ImgtoolError(f"{ref}: {prefix} sources are not supported yet (load the image into the store first)")
    return _from_store(ref)


def _from_store(ref: str) -> ImageSource:
    from imgtool.oci import reference
    from imgtool.store import Store

    store = Store.open()
    entry = store.find(ref)
    image = store.load(entry.descriptor)
    tags: tuple[str, ...] = ()
    if entry.normalized:
        parsed = reference.parse(entry.normalized)
        if parsed.tag:
            tags = (reference.Reference(parsed.registry, parsed.repository, parsed.tag).familiar_tagged,)
    return ImageSource(entry.name or ref, image.descriptor, image.manifest, image.config_bytes, image.config,
                       lambda d: store.open_blob(d.digest), tags)


def _split_layout_ref(text: str) -> tuple[Path, str | None]:
    """`DIR[:TAG]` as skopeo's oci transport reads it: the path ends at the first `:`."""
    path, sep, tag = text.partition(":")
    return Path(path), (tag or None) if sep else None


def _from_layout(text: str, ref: str) -> ImageSource:
    from imgtool.store import layout
    from imgtool.store.image import load_image

    path, tag = _split_layout_ref(text)
    if not path.is_dir():
        raise NotFoundError(f"{ref}: {path} is not a directory")
    layout.check(path)
    manifests = layout.read_index(path).manifests
    if tag is not None:
        chosen = [d for d in manifests if d.annotations.get(ANNOTATION_REF_NAME) == tag]
    else:
        chosen = list(manifests)
    if not chosen:
        raise NotFoundError(f"{ref}: no image tagged {tag!r} in {path}/index.json")
    if len(chosen) > 1:
        raise ImgtoolError(f"{ref}: {path}/index.json has {len(chosen)} images, name one with oci:DIR:TAG")
    image = load_image(path, chosen[0])
    return ImageSource(ref, image.descriptor, image.manifest, image.config_bytes, image.config,
                       lambda d: layout.open_blob(path, d.digest))
