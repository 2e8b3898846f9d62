"""Filesystem backend: a global content-addressed blob store, repositories made of link files,
in the layout of `layout` below the root (plus `uploads/<id>/`, the sessions of `fsuploads`).

Blobs are published by hard link (`imgtool.store.blobs.publish`) and never rewritten; small files are
replaced atomically (write, fsync, rename). A file's mtime is its "last used" time: every writer that
relies on a blob touches it under the shared GC lock, which is what makes online GC safe.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from imgtool.oci.digest import Digest
from imgtool.atomicfile import fsync_dir, write_bytes as write_small
from imgtool.store.blobs import blob_path, publish

from ..errors import RegistryError
from ..names import new_upload_id
from .base import BlobInfo, BlobStat, FileWindow, Upload
from .fsuploads import UploadDir
from .layout import LayoutStorage, link_key, repo_key
from .locks import GcLock


def storage_error(exc: OSError) -> RegistryError:
    """The client's view of a storage failure (a full disk is the usual one): 507, not a traceback."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RegistryError("UNKNOWN", "storage is full", status=507)
    return RegistryError("UNKNOWN", f"storage error: {exc.strerror}")


def _unlink(path: Path) -> bool:
    """Delete a file; False if it was not there."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


class FilesystemStorage(LayoutStorage):
    """The `Storage` interface on a local directory tree."""

    def __init__(self, root: Path, fsync: bool = True, max_sessions: int = 0):
        self.root = Path(root)
        self.fsync = fsync
        self.blobs_root = self.root / "blobs"
        self.repos_root = self.root / "repositories"
        for d in (self.blobs_root, self.repos_root):
            d.mkdir(parents=True, exist_ok=True)
        self.uploads = UploadDir(self.root / "uploads", fsync, max_sessions)
        self.lock = GcLock(self.root / "gc.lock")

    # --- the layout's primitives ---------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root / key

    def _link(self, repository: str, digest: Digest) -> Path:
        return self._path(link_key(repository, digest))

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _write(self, key: str, data: bytes) -> None:
        self._write_small(self._path(key), data)

    def _remove(self, key: str) -> bool:
        return _unlink(self._path(key))

    def _names(self, folder: str) -> list[str]:
        try:  # dot-files are atomic writes in progress
            return sorted(n for n in os.listdir(self._path(folder)) if not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _folders(self, folder: str) -> list[str]:
        try:
            with os.scandir(self._path(folder)) as entries:
                return [e.name for e in entries if e.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _write_small(self, path: Path, data: bytes) -> None:
        """Replace a small file atomically (readers see the old or the new content, never a mix)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_small(path, data, durable=self.fsync)

    # --- blobs ---------------------------------------------------------------------------------
    def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        """See Storage.blob."""
        if not self._link(repository, digest).exists():
            return None
        path = blob_path(self.blobs_root, digest)
        try:
            return BlobInfo(digest, path.stat().st_size)
        except FileNotFoundError:
            return None

    def open_blob(self, digest: Digest, first: int, last: int) -> BinaryIO:
        """See Storage.open_blob: the file, positioned at `first`, cut off after `last`."""
        try:
            f = open(blob_path(self.blobs_root, digest), "rb")
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is gone") from None
        f.seek(first)
        return FileWindow(f, first, max(last - first + 1, 0))  # type: ignore[return-value]

    def _touch_linked(self, repository: str, digest: Digest) -> bool:
        """Refresh a blob and its link in `repository` (caller holds the shared lock)."""
        try:
            os.utime(blob_path(self.blobs_root, digest))
        except FileNotFoundError:
            return False
        link = self._link(repository, digest)
        try:
            os.utime(link)
        except FileNotFoundError:
            self._create_link(link)
        return True

    def _create_link(self, link: Path) -> None:
        """Create an empty link file durably: after the client is told its blob is in the repository,
        a crash must not lose the name, so the new entry and every directory made for it are synced."""
        made = []
        folder = link.parent
        while not folder.exists():
            made.append(folder)
            folder = folder.parent
        link.parent.mkdir(parents=True, exist_ok=True)
        link.touch()
        if self.fsync:
            for entry in (link, *made):
                fsync_dir(entry.parent)

    def link_blob(self, repository: str, digest: Digest) -> bool:
        """See Storage.link_blob."""
        with self.lock.shared():
            return self._touch_linked(repository, digest)

    def unlink_blob(self, repository: str, digest: Digest) -> bool:
        """See Storage.unlink_blob."""
        return _unlink(self._link(repository, digest))

    # --- uploads -------------------------------------------------------------------------------
    def start_upload(self, repository: str, user: str, algorithm: str) -> Upload:
        """See Storage.start_upload."""
        try:
            return self.uploads.start(new_upload_id(), repository, user, algorithm)
        except OSError as exc:
            raise storage_error(exc) from None

    def append(self, upload: Upload, parts: list[bytes]) -> None:
        """See Storage.append. A write that fails (disk full) ends the session and frees its bytes."""
        try:
            self.uploads.append(upload, parts)
        except OSError as exc:
            self.uploads.remove(upload.id)
            raise storage_error(exc) from None

    def truncate(self, upload: Upload, offset: int) -> None:
        """See Storage.truncate."""
        self.uploads.truncate(upload, offset)

    def commit_upload(self, upload: Upload, digest: Digest) -> BlobInfo:
        """See Storage.commit_upload (a failure to persist also ends the session at once)."""
        try:
            return self._commit(upload, digest)
        except OSError as exc:
            self.uploads.remove(upload.id)
            raise storage_error(exc) from None

    def _commit(self, upload: Upload, digest: Digest) -> BlobInfo:
        hexdigest, size = self.uploads.finish(upload, digest.algorithm)
        if hexdigest != digest.encoded:
            self.uploads.remove(upload.id)
            raise RegistryError(
                "DIGEST_INVALID", f"uploaded content is {digest.algorithm}:{hexdigest}, not {digest}"
            )
        dest = blob_path(self.blobs_root, digest)
        with self.lock.shared():
            publish(self.uploads.data_path(upload.id), dest)  # a hard link; an existing blob wins
            self._touch_linked(upload.repository, digest)
        self.uploads.remove(upload.id)
        return BlobInfo(digest, size)

    # --- manifests -----------------------------------------------------------------------------
    def put_manifest(
        self, repository: str, digest: Digest, media_type: str, data: bytes,
        tags: list[str], subject: Digest | None, referrer: dict | None, blobs: list[Digest],
    ) -> list[Digest]:
        """See Storage.put_manifest."""
        try:
            return self._put_manifest(repository, digest, media_type, data, tags, subject, referrer, blobs)
        except OSError as exc:
            raise storage_error(exc) from None

    def _put_manifest(
        self, repository: str, digest: Digest, media_type: str, data: bytes,
        tags: list[str], subject: Digest | None, referrer: dict | None, blobs: list[Digest],
    ) -> list[Digest]:
        with self.lock.shared():
            missing = [b for b in blobs if not self._touch_existing_link(repository, b)]
            if missing:
                return missing
            path = blob_path(self.blobs_root, digest)
            if path.exists():
                os.utime(path)
            else:
                self._write_small(path, data)
            self._write_records(repository, digest, media_type, tags, subject, referrer)
        return []

    def _touch_existing_link(self, repository: str, digest: Digest) -> bool:
        """Refresh a blob the repository already has; False if it has not (or the blob is gone)."""
        return self._link(repository, digest).exists() and self._touch_linked(repository, digest)

    # --- GC primitives -------------------------------------------------------------------------
    @staticmethod
    def _digests_under(folder: Path) -> Iterator[tuple[Digest, float]]:
        """(digest, mtime) for every `<alg>/<hex>` file below `folder` that parses as a digest."""
        try:
            algorithms = os.listdir(folder)
        except FileNotFoundError:
            return
        for algorithm in algorithms:
            try:
                entries = list(os.scandir(folder / algorithm))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                try:
                    yield Digest.parse(f"{algorithm}:{entry.name}"), entry.stat().st_mtime
                except Exception:  # noqa: BLE001 - stray files (temp names, bad digests) are skipped
                    continue

    def revisions(self, repository: str) -> Iterator[Digest]:
        """See Storage.revisions."""
        for digest, _ in self._digests_under(self._path(repo_key(repository)) / "_manifests" / "revisions"):
            yield digest

    def layer_links(self, repository: str) -> Iterator[tuple[Digest, float]]:
        """See Storage.layer_links."""
        return self._digests_under(self._path(repo_key(repository)) / "_layers")

    def all_blobs(self) -> Iterator[BlobStat]:
        """See Storage.all_blobs."""
        for digest, _ in self._digests_under(self.blobs_root):
            try:
                st = blob_path(self.blobs_root, digest).stat()
            except FileNotFoundError:
                continue
            yield BlobStat(digest, st.st_mtime, st.st_size)

    @contextlib.contextmanager
    def gc_lease(self) -> Iterator[bool]:
        """See Storage.gc_lease: a non-blocking exclusive flock on `gc.run`."""
        fd = os.open(self.root / "gc.run", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def probe(self) -> str:
        """See Storage.probe: the root is there and writable."""
        return "" if os.access(self.blobs_root, os.W_OK) else f"{self.blobs_root} is not writable"

    def _delete_if_stale(self, path: Path, cutoff: float) -> bool:
        with self.lock.exclusive():
            try:
                if path.stat().st_mtime >= cutoff:
                    return False
                path.unlink()
                return True
            except FileNotFoundError:
                return False

    def delete_blob_if_stale(self, digest: Digest, cutoff: float) -> bool:
        """See Storage.delete_blob_if_stale."""
        return self._delete_if_stale(blob_path(self.blobs_root, digest), cutoff)

    def unlink_blob_if_stale(self, repository: str, digest: Digest, cutoff: float) -> bool:
        """See Storage.unlink_blob_if_stale."""
        return self._delete_if_stale(self._link(repository, digest), cutoff)
