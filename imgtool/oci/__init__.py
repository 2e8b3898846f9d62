"""The OCI image-spec as Python: digests, media types, descriptors, manifests, indexes, configs,
references and schema validation. Pure data, no I/O beyond reading the bundled schemas."""

from .config import ContainerConfig, History, ImageConfig, parse_config
from .descriptor import Descriptor, Platform
from .digest import Digest
from .manifest import Index, Manifest, descriptor_of, parse_index, parse_manifest
from .reference import Reference

__all__ = [
    "ContainerConfig", "Descriptor", "Digest", "History", "ImageConfig", "Index", "Manifest",
    "Platform", "Reference", "descriptor_of", "parse_config", "parse_index", "parse_manifest",
]
