"""The image an inspection reads: manifest, config and a way to open each layer blob.

Inspection needs nothing else, so every place an image lives plugs in through the client's
transports (`imgtool/remote`): the store by name, `oci:DIR[:NAME]`, `oci-archive:`/`docker-archive:FILE`,
`docker://REF` (layers streamed from the registry, never stored) and `docker-daemon:NAME`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from imgtool.oci import mediatype
from imgtool.oci.config import ImageConfig, parse_config
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.manifest import Manifest, descriptor_of, parse_index, parse_manifest

_TRANSPORTS = ("oci:", "oci-archive:", "docker-archive:", "docker-daemon:", "docker://")
_CONFIG_LIMIT = 16 << 20


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
    closer: Callable[[], None] = field(default=lambda: None, repr=False)
    cached_sizes: Callable[[], list[int]] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        """Docker's image ID: the config digest."""
        return str(self.manifest.config.digest)

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """Layer descriptors, base first."""
        return self.manifest.layers

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """The blob's bytes as stored (compressed); `walk` verifies them through `imgtool.layer.Layer`."""
        return self.opener(descriptor)

    def close(self) -> None:
        """Release the transport (connections, an archive's scratch copy)."""
        self.closer()


def open_source(ref: str) -> ImageSource:
    """The image a command-line reference names: a transport string, else a store name or ID."""
    from imgtool.remote import transports
    from imgtool.remote.copy import pick
    from imgtool.remote.endpoint import verified
    from imgtool.store import Store
    from imgtool.store.image import host_platform

    store = None if ref.startswith(_TRANSPORTS) else Store.open()
    src = transports.source(ref, store)
    try:
        data, media_type = src.root()
        descriptor = descriptor_of(data, media_type)
        if mediatype.is_index(media_type):
            descriptor = pick(parse_index(data, ref).manifests, host_platform(), ref)
            data = src.manifest(descriptor)
            descriptor.digest.verify(data)
        manifest = parse_manifest(data, f"{ref}: manifest {descriptor.digest}")
        with verified(src.open_blob(manifest.config), manifest.config) as f:
            config_bytes = f.read(_CONFIG_LIMIT + 1)
        config = parse_config(config_bytes, f"{ref}: config {manifest.config.digest}")
        tags, digests = _names(ref, store, descriptor)
        sizes = None if store is None else _store_sizes(store, manifest, config)
        return ImageSource(ref, descriptor, manifest, config_bytes, config, src.open_blob, tags, digests, src.close, sizes)
    except BaseException:
        src.close()
        raise


def _names(ref: str, store, descriptor: Descriptor) -> tuple[tuple[str, ...], tuple[str, ...]]:  # noqa: ANN001
    """docker's RepoTags / RepoDigests: the store name's tag; a registry reference's tag and digest."""
    from imgtool.errors import InvalidReferenceError
    from imgtool.oci import reference

    if store is not None:
        entry = store.find(ref)
        parsed = reference.parse(entry.normalized) if entry.normalized else None
    elif ref.startswith("docker://"):
        try:
            parsed = reference.parse(ref[len("docker://"):].lstrip("/"))
        except InvalidReferenceError:
            return (), ()
        name = reference.Reference(parsed.registry, parsed.repository, None).familiar_name
        return ((reference.Reference(parsed.registry, parsed.repository, parsed.tag).familiar_tagged,) if parsed.tag else (),
                (f"{name}@{descriptor.digest}",))
    else:
        return (), ()
    if parsed is None or not parsed.tag:
        return (), ()
    return (reference.Reference(parsed.registry, parsed.repository, parsed.tag).familiar_tagged,), ()


def _store_sizes(store, manifest: Manifest, config: ImageConfig) -> Callable[[], list[int]]:  # noqa: ANN001
    """Per-layer content bytes from the store's cache (store/sizes.py: measured once per DiffID)."""
    from imgtool.store.sizes import layer_content_size

    def sizes() -> list[int]:
        return [layer_content_size(store, store.layer(d, diff_id)) for d, diff_id in zip(manifest.layers, config.diff_ids)]
    return sizes
