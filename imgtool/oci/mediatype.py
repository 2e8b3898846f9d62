"""Media types imgtool reads and writes: OCI image-spec, plus Docker schema2 for interop.

Docker's types are accepted when reading and pushing (registries and `docker save` still use them);
imgtool writes OCI types unless asked to produce a docker archive.
"""

from __future__ import annotations

from imgtool.errors import UnknownMediaTypeError

OCI_LAYOUT_VERSION = "1.0.0"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})

# layer media type -> compression name (imgtool.layer.compression.Compression's values); the docker
# plain and zstd types are containerd's, which docker writes for such layers
LAYERS: dict[str, str] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: "none",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: "none",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
}

OCI_LAYER_BY_COMPRESSION = {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
DOCKER_LAYER_BY_COMPRESSION = {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}

# OCI <-> Docker equivalents, used when writing docker archives or pushing to old registries
TO_DOCKER = {
    OCI_MANIFEST: DOCKER_MANIFEST,
    OCI_INDEX: DOCKER_MANIFEST_LIST,
    OCI_CONFIG: DOCKER_CONFIG,
    OCI_LAYER_GZIP: DOCKER_LAYER_GZIP,
}


def is_manifest(media_type: str) -> bool:
    """An image manifest (OCI or Docker schema2)."""
    return media_type in MANIFESTS


def is_index(media_type: str) -> bool:
    """An image index or Docker manifest list."""
    return media_type in INDEXES


def layer_compression(media_type: str) -> str:
    """The compression a layer media type announces: "none", "gzip" or "zstd"."""
    try:
        return LAYERS[media_type]
    except KeyError:
        raise UnknownMediaTypeError(f"unknown layer media type {media_type!r}") from None
