"""S3 backend: the filesystem's layout (`layout`) as object keys, so N stateless instances share
one bucket. Beside the layout's keys (a link's body is the blob's size here):

    used/<alg>/<hex>                                        empty; rewritten whenever a blob is reused
    uploads/<id>/...                                        sessions (s3uploads)
    _gc/lease, _gc/tombstones/<key>                         online GC's coordination (below)

GC across instances, with no lock service: S3 is strongly consistent (read-after-write, listings
included), and every writer that relies on an object *touches it first and looks second*, while GC
*marks it first and looks second* (Dekker's handshake):

- a writer (commit, mount, manifest push) rewrites `used/<digest>` and the repository's link, then
  checks there is no tombstone for either and that both still exist; otherwise it treats the blob as
  missing (a manifest push gets MANIFEST_BLOB_UNKNOWN, a commit writes the blob again);
- GC puts a tombstone, re-reads the times (a touch after its cutoff keeps the object), deletes,
  and removes the tombstone. One pass at a time holds `_gc/lease` (created with If-None-Match: *).

Either the touch lands before GC's re-read (kept), or the writer sees the tombstone or the deletion.
Times are the bucket's own (LastModified); the cutoff is taken from the bucket's clock too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from imgtool.oci.digest import Digest, new_hasher

from ..errors import RegistryError
from ..names import new_upload_id
from .base import BlobInfo, BlobStat, Upload
from .bucket import Bucket
from .layout import LayoutStorage, blob_key, link_key, repo_key
from .s3uploads import S3Uploads

if TYPE_CHECKING:
    from ..config import Config

_LEASE = "_gc/lease"
_LEASE_TTL = 6 * 3600.0  # a crashed GC's lease is taken over after this long
_READ = 8 << 20


def _used(d: Digest) -> str:
    return f"used/{d.algorithm}/{d.encoded}"


def _tombstone(key: str) -> str:
    return f"_gc/tombstones/{key}"


def _digests(entries: Iterator, under: str) -> Iterator[tuple[Digest, object]]:
    for entry in entries:
        try:
            yield Digest.parse(entry.key[len(under):].replace("/", ":", 1)), entry
        except Exception:  # noqa: BLE001 - stray keys are not ours to judge
            continue


class S3Storage(LayoutStorage):
    """The `Storage` interface on one S3 bucket (AWS, MinIO, GCS interop, moto)."""

    remote = True

    def __init__(self, bucket: Bucket, part_size: int = 8 << 20):
        self.bucket = bucket
        self.uploads = S3Uploads(bucket, part_size)
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="s3-touch")  # one task per manifest blob
        self._io = ThreadPoolExecutor(16, thread_name_prefix="s3-io")  # the calls inside one task

    @classmethod
    def from_config(cls, config: "Config") -> "S3Storage":
        """The bucket and settings a Config names (credentials: boto3's usual chain)."""
        bucket = Bucket(config.s3_bucket, config.s3_prefix, config.s3_endpoint, config.s3_region, config.s3_path_style)
        return cls(bucket, config.s3_part_size)

    # --- blobs ---------------------------------------------------------------------------------
    def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        """See Storage.blob: one GET of the link, which records the size."""
        body = self.bucket.get(link_key(repository, digest))
        if body is None:
            return None
        try:
            return BlobInfo(digest, int(body))
        except ValueError:
            head = self.bucket.head(blob_key(digest))
            return BlobInfo(digest, head.size) if head else None

    def open_blob(self, digest: Digest, first: int, last: int) -> BinaryIO:
        """See Storage.open_blob."""
        if last < first:
            return io.BytesIO(b"")
        body = self.bucket.stream(blob_key(digest), first, last)
        if body is None:
            raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is gone")
        return body

    def _each(self, *calls: Callable[[], object]) -> list:
        """Run independent bucket calls at once (one round trip instead of several)."""
        return list(self._io.map(lambda call: call(), calls))

    def _touch(self, repository: str, digest: Digest, size: int) -> bool:
        """Make a blob reachable from `repository` in GC's eyes; False if it is gone (or going).

        Touch (marker and link), then look for tombstones, then check both still exist: in that
        order, each step a round trip of parallel calls (module docstring: the handshake with GC).
        """
        blob, link = blob_key(digest), link_key(repository, digest)
        for _ in range(3):
            self._each(lambda: self.bucket.put(_used(digest), b""), lambda: self.bucket.put(link, str(size).encode()))
            if any(self._each(lambda: self.bucket.head(_tombstone(blob)), lambda: self.bucket.head(_tombstone(link)))):
                time.sleep(0.2)  # a GC pass is deciding right now: look again after it decided
                continue
            found_blob, found_link = self._each(lambda: self.bucket.head(blob), lambda: self.bucket.head(link))
            if found_blob is None:
                self.bucket.delete(link)  # never leave a link to nothing (blob() trusts links)
                return False
            if found_link is not None:
                return True
        return False

    def link_blob(self, repository: str, digest: Digest) -> bool:
        """See Storage.link_blob."""
        head = self.bucket.head(blob_key(digest))
        return head is not None and self._touch(repository, digest, head.size)

    def unlink_blob(self, repository: str, digest: Digest) -> bool:
        """See Storage.unlink_blob."""
        if self.bucket.head(link_key(repository, digest)) is None:
            return False
        self.bucket.delete(link_key(repository, digest))
        return True

    def repositories_with(self, digest: Digest) -> list[str]:
        """See Storage.repositories_with."""
        return [r for r in self.repositories() if self.bucket.head(link_key(r, digest)) is not None]

    # --- uploads -------------------------------------------------------------------------------
    def start_upload(self, repository: str, user: str, algorithm: str) -> Upload:
        """See Storage.start_upload."""
        return self.uploads.start(new_upload_id(), repository, user, algorithm)

    def append(self, upload: Upload, parts: list[bytes]) -> None:
        """See Storage.append."""
        self.uploads.append(upload, parts)

    def sync(self, upload: Upload) -> None:
        """See Storage.sync."""
        self.uploads.sync(upload)

    def truncate(self, upload: Upload, offset: int) -> None:
        """See Storage.truncate: only back to the last synced offset (the start of the request)."""
        self.uploads.rollback(upload)
        if upload.offset != offset:
            raise RegistryError("BLOB_UPLOAD_INVALID", "the session moved on during this request")

    def commit_upload(self, upload: Upload, digest: Digest) -> BlobInfo:
        """See Storage.commit_upload."""
        try:
            assembled, small, hexdigest = self.uploads.assemble(upload)
            if small is not None:
                if digest.algorithm != upload.algorithm or not hexdigest:
                    hexdigest = hashlib.new(digest.algorithm, small).hexdigest()
                actual = hexdigest
                size = len(small)
            else:
                assert assembled is not None
                if digest.algorithm != upload.algorithm or not hexdigest:
                    hexdigest = self._hash_object(assembled, digest.algorithm)
                actual, size = hexdigest, upload.offset
            if actual != digest.encoded:
                raise RegistryError("DIGEST_INVALID", f"uploaded content is {digest.algorithm}:{actual}, not {digest}")
            for _ in range(3):
                if self.bucket.head(blob_key(digest)) is None:
                    if small is not None:
                        self.bucket.put(blob_key(digest), small)
                    else:
                        self.bucket.copy(assembled, blob_key(digest))
                if self._touch(upload.repository, digest, size):
                    return BlobInfo(digest, size)
            raise RegistryError("UNKNOWN", f"blob {digest} was collected while being committed; retry", status=503)
        finally:
            self.uploads.remove(upload.id)

    def _hash_object(self, key: str, algorithm: str) -> str:
        head = self.bucket.head(key)
        hasher = new_hasher(algorithm)
        if head is not None and head.size:
            body = self.bucket.stream(key, 0, head.size - 1)
            while body is not None and (chunk := body.read(_READ)):
                hasher.update(chunk)
        return hasher.hexdigest()

    # --- manifests -----------------------------------------------------------------------------
    def put_manifest(
        self, repository: str, digest: Digest, media_type: str, data: bytes,
        tags: list[str], subject: Digest | None, referrer: dict | None, blobs: list[Digest],
    ) -> list[Digest]:
        """See Storage.put_manifest: every referenced blob is touched (in parallel) first."""
        def keep(d: Digest) -> bool:
            size = self.bucket.get(link_key(repository, d))
            return size is not None and size.isdigit() and self._touch(repository, d, int(size))

        unique = list(dict.fromkeys(blobs))
        missing = [d for d, ok in zip(unique, self._pool.map(keep, unique)) if not ok]
        if missing:
            return missing
        self.bucket.put(_used(digest), b"")
        self.bucket.put(blob_key(digest), data)
        self._write_records(repository, digest, media_type, tags, subject, referrer)
        return []

    # --- the layout's primitives ---------------------------------------------------------------
    def _read(self, key: str) -> bytes | None:
        return self.bucket.get(key)

    def _write(self, key: str, data: bytes) -> None:
        self.bucket.put(key, data)

    def _remove(self, key: str) -> bool:
        if self.bucket.head(key) is None:
            return False
        self.bucket.delete(key)
        return True

    def _names(self, folder: str) -> list[str]:
        return sorted(e.key[len(folder):] for e in self.bucket.list(folder))

    def _folders(self, folder: str) -> list[str]:
        return self.bucket.folders(folder)

    # --- GC primitives -------------------------------------------------------------------------
    def revisions(self, repository: str) -> Iterator[Digest]:
        """See Storage.revisions."""
        under = f"{repo_key(repository)}_manifests/revisions/"
        for digest, _ in _digests(self.bucket.list(under), under):
            yield digest

    def layer_links(self, repository: str) -> Iterator[tuple[Digest, float]]:
        """See Storage.layer_links."""
        under = f"{repo_key(repository)}_layers/"
        for digest, entry in _digests(self.bucket.list(under), under):
            yield digest, entry.modified  # type: ignore[attr-defined]

    def all_blobs(self) -> Iterator[BlobStat]:
        """See Storage.all_blobs: a blob's last use is the later of its write and its `used/` touch."""
        touched = {d: e.modified for d, e in _digests(self.bucket.list("used/"), "used/")}  # type: ignore[attr-defined]
        for digest, entry in _digests(self.bucket.list("blobs/"), "blobs/"):
            yield BlobStat(digest, max(entry.modified, touched.get(digest, 0.0)), entry.size)  # type: ignore[attr-defined]

    def _last_used(self, digest: Digest) -> float | None:
        blob = self.bucket.head(blob_key(digest))
        if blob is None:
            return None
        used = self.bucket.head(_used(digest))
        return max(blob.modified, used.modified if used else 0.0)

    def _delete_if_stale(self, key: str, stale: Callable[[], bool], extra: list[str]) -> bool:
        self.bucket.put(_tombstone(key), b"")
        try:
            if not stale():
                return False
            self.bucket.delete_many([key, *extra])
            return True
        finally:
            self.bucket.delete(_tombstone(key))

    def delete_blob_if_stale(self, digest: Digest, cutoff: float) -> bool:
        """See Storage.delete_blob_if_stale: tombstone, re-read, delete, untombstone."""
        def stale() -> bool:
            last = self._last_used(digest)
            return last is not None and last < cutoff

        return self._delete_if_stale(blob_key(digest), stale, [_used(digest)])

    def unlink_blob_if_stale(self, repository: str, digest: Digest, cutoff: float) -> bool:
        """See Storage.unlink_blob_if_stale."""
        def stale() -> bool:
            link = self.bucket.head(link_key(repository, digest))
            return link is not None and link.modified < cutoff

        return self._delete_if_stale(link_key(repository, digest), stale, [])

    def clock(self) -> float:
        """See Storage.clock: the bucket's time, since object times are in it."""
        return self.bucket.clock() or time.time()

    @contextlib.contextmanager
    def gc_lease(self) -> Iterator[bool]:
        """See Storage.gc_lease: `_gc/lease` created with If-None-Match: *; stale after 6 h."""
        body = json.dumps({"expires": time.time() + _LEASE_TTL}).encode()
        held = self.bucket.put(_LEASE, body, if_absent=True)
        if not held:
            current = self.bucket.get(_LEASE)
            if current is None or json.loads(current).get("expires", 0) < time.time():
                self.bucket.delete(_LEASE)
                held = self.bucket.put(_LEASE, body, if_absent=True)
        try:
            yield held
        finally:
            if held:
                self.bucket.delete(_LEASE)

    def probe(self) -> str:
        """See Storage.probe: HeadBucket."""
        return self.bucket.probe()
