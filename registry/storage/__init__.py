"""Content storage for the registry: the `Storage` interface and its filesystem implementation."""

from .base import BlobInfo, ManifestInfo, Storage, Upload

__all__ = ["BlobInfo", "ManifestInfo", "Storage", "Upload"]
