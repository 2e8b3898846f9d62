"""The local content store: an OCI image layout with atomic verified blobs and named images."""

from .image import Image, host_platform
from .store import NamedImage, Store, default_root

__all__ = ["Image", "NamedImage", "Store", "default_root", "host_platform"]
