"""An image as read from a store: its manifest and config, parsed, validated (once per content: the
store's memo, store/validated.py) and digest-checked."""

from __future__ import annotations

import platform as _platform
from pathlib import Path

from imgtool.errors import NotFoundError, SchemaError
from imgtool.frozen import frozen
from imgtool.layer.layer import Layer
from imgtool.oci import mediatype
from imgtool.oci.config import ImageConfig, parse_config
from imgtool.oci.descriptor import Descriptor, Platform
from imgtool.oci.manifest import Manifest, parse_index, parse_manifest

from . import layout

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}


def host_platform() -> Platform:
    """The platform this machine runs, in OCI terms (`linux/amd64`)."""
    machine = _platform.machine()
    return Platform(architecture=_ARCH.get(machine, machine), os="linux")


@frozen
class Image:
    """A single-platform image: the manifest descriptor it was reached by, plus parsed documents."""

    descriptor: Descriptor
    manifest_bytes: bytes
    manifest: Manifest
    config_bytes: bytes
    config: ImageConfig
    layers: tuple[Layer, ...]  # base first, each opening its blob in the store

    @property
    def id(self) -> str:
        """Docker's image ID: the config digest."""
        return str(self.manifest.config.digest)


def load_image(root: Path, descriptor: Descriptor, want: Platform | None = None) -> Image:
    """Read the image a descriptor points to, choosing the host platform from an index."""
    what = f"manifest {descriptor.digest}"
    memo = layout.memo(root)
    data = layout.read_blob(root, descriptor.digest)
    if mediatype.is_index(descriptor.media_type):
        index = parse_index(data, what, memo)
        descriptor = pick_platform(index.manifests, want or host_platform(), what)
        return load_image(root, descriptor, want)
    manifest = parse_manifest(data, what, memo)
    config_bytes = layout.read_blob(root, manifest.config.digest)
    config = parse_config(config_bytes, f"config {manifest.config.digest}", memo)
    if len(config.diff_ids) != len(manifest.layers):
        raise SchemaError(f"{what}: {len(manifest.layers)} layers but its config lists {len(config.diff_ids)} diff_ids")
    layers = tuple(layout.layer(root, d, diff_id) for d, diff_id in zip(manifest.layers, config.diff_ids))
    return Image(descriptor, data, manifest, config_bytes, config, layers)


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]` (docker's --platform) -> Platform."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise SchemaError(f"--platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    return Platform(architecture=parts[1], os=parts[0], variant=parts[2] if len(parts) == 3 else None)


def pick_platform(manifests: tuple[Descriptor, ...], want: Platform, what: str) -> Descriptor:
    """The index entry for a platform (variant matched when asked for; sole unlabelled entry else):
    the one choice behind pull, inspect, run and build FROM of a multi-platform image."""
    images = [m for m in manifests if mediatype.is_manifest(m.media_type) or mediatype.is_index(m.media_type)]
    for m in images:
        p = m.platform
        if p and p.os == want.os and p.architecture == want.architecture and (not want.variant or p.variant == want.variant):
            return m
    unlabelled = [m for m in images if m.platform is None]
    if len(unlabelled) == 1 and want.variant is None:
        return unlabelled[0]
    have = ", ".join(sorted({str(m.platform) for m in images if m.platform})) or "none"
    raise NotFoundError(f"{what}: no image for platform {want} (the index has: {have})")
