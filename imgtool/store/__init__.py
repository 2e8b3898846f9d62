"""The local content store: an OCI image layout with atomic verified blobs and named images."""

from .store import NamedImage, Store, default_root

__all__ = ["Image", "NamedImage", "Store", "default_root", "host_platform"]


def __getattr__(name: str):  # PEP 562: reading images (manifest + config types) loads only when asked
    if name in ("Image", "host_platform"):
        from . import image

        return getattr(image, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
