"""Content storage for the registry: the `Storage` interface, its filesystem and S3 backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BlobInfo, ManifestInfo, Storage, Upload

if TYPE_CHECKING:
    from ..config import Config
    from ..metrics import Metrics

__all__ = ["BlobInfo", "ManifestInfo", "Storage", "Upload", "open_storage"]

_TIMED = {
    name for name, value in vars(Storage).items() if callable(value) and not name.startswith("_")
}


def open_storage(config: "Config", metrics: "Metrics | None" = None) -> Storage:
    """The backend `config.storage` names; with `metrics`, every call's latency is recorded."""
    if config.storage == "s3":
        from .s3 import S3Storage

        storage: Storage = S3Storage.from_config(config)
    else:
        from .filesystem import FilesystemStorage

        storage = FilesystemStorage(config.root, fsync=config.fsync, max_sessions=config.max_upload_sessions)
    if metrics is not None:
        for name in _TIMED:
            setattr(storage, name, metrics.timed(config.storage, name, getattr(storage, name)))
    return storage
