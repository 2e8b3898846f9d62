"""The storage interface the HTTP handlers and GC are written against.

It is deliberately narrow (blobs, upload sessions, manifests, tags, referrers, and the few listing
and conditional-delete primitives GC needs) so that an object-store backend can implement it without
touching the handlers. Arguments are already validated (`registry.names`), so a backend may build
keys from them directly. Methods are synchronous: the server calls mutating ones from a thread pool.
"""

from __future__ import annotations

import abc
import contextlib
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from imgtool.oci.digest import Digest


@dataclass(frozen=True)
class BlobInfo:
    """A committed blob of a repository: what HEAD answers (read it with Storage.open_blob)."""

    digest: Digest
    size: int


@dataclass(frozen=True)
class ManifestInfo:
    """A stored manifest: exact bytes pushed, and the media type they were pushed as."""

    digest: Digest
    media_type: str
    data: bytes


@dataclass(frozen=True)
class BlobStat:
    """A committed blob as GC sees it: when it was last used (written, linked, reused), its size."""

    digest: Digest
    last_used: float
    size: int


@dataclass
class Upload:
    """An upload session, bound to the repository and user that started it (never reusable elsewhere)."""

    id: str
    repository: str
    user: str
    algorithm: str
    offset: int = 0


class FileWindow:
    """At most `remaining` bytes of an open local file from `start` (a blob, or a Range of it).

    A local backend returns this from `open_blob`, which tells the blob handler it may hand the
    kernel the file descriptor (zero-copy) instead of reading the bytes into Python."""

    def __init__(self, file: BinaryIO, start: int, remaining: int):
        self.file, self.start, self.remaining = file, start, remaining

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, then b"" once the window is used up."""
        data = self.file.read(min(size, self.remaining)) if self.remaining > 0 else b""
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class Storage(abc.ABC):
    """A registry's content: CAS blobs linked into repositories, manifests, tags, referrers."""

    remote = False  # True when every call is a network round trip: handlers then never call inline

    # --- blobs ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        """The blob if it is committed *and* linked into `repository` (repos are access boundaries)."""

    @abc.abstractmethod
    def link_blob(self, repository: str, digest: Digest) -> bool:
        """Link an existing blob into `repository` (cross-repo mount); False if it does not exist."""

    def probe(self) -> str:
        """"" if the backend answers now, else why not (readiness: one cheap call, no side effects)."""
        return ""

    @abc.abstractmethod
    def open_blob(self, digest: Digest, first: int, last: int) -> BinaryIO:
        """A readable stream of bytes `first`..`last` (inclusive) of a committed blob."""

    def repositories_with(self, digest: Digest) -> list[str]:
        """Repositories the blob is linked into (automatic content discovery for mounts)."""
        return [r for r in self.repositories() if self.blob(r, digest) is not None]

    @abc.abstractmethod
    def unlink_blob(self, repository: str, digest: Digest) -> bool:
        """Remove a blob from `repository`; the content goes when GC finds nothing referencing it."""

    # --- upload sessions -----------------------------------------------------------------------
    @abc.abstractmethod
    def start_upload(self, repository: str, user: str, algorithm: str) -> Upload:
        """Open a new, empty session."""

    @abc.abstractmethod
    def upload(self, upload_id: str, repository: str, user: str) -> Upload:
        """The session `upload_id` if it belongs to this repository and user, else BLOB_UPLOAD_UNKNOWN."""

    @abc.abstractmethod
    def append(self, upload: Upload, parts: list[bytes]) -> None:
        """Append `parts` in order at the session's current offset (hashed as they are written).

        A list and not one joined bytes: the body arrives in socket-sized pieces, and joining them on
        the event loop copied every uploaded byte there, under the GIL, before the worker thread
        wrote and hashed them (which it does piece by piece, with the GIL released)."""

    def sync(self, upload: Upload) -> None:
        """Make what was appended durable and visible to every instance (at the end of a request)."""

    @abc.abstractmethod
    def truncate(self, upload: Upload, offset: int) -> None:
        """Drop the session's bytes past `offset` (a chunk refused after it was partly written)."""

    @abc.abstractmethod
    def commit_upload(self, upload: Upload, digest: Digest) -> BlobInfo:
        """Verify the session's bytes hash to `digest`, publish the blob and link it; ends the session.

        On a mismatch the session is discarded and DIGEST_INVALID raised: nothing is stored.
        """

    @abc.abstractmethod
    def cancel_upload(self, upload: Upload) -> None:
        """Discard a session and its bytes."""

    @abc.abstractmethod
    def expire_uploads(self, older_than: float) -> int:
        """Remove sessions idle since before the epoch time `older_than`; returns how many."""

    # --- manifests and tags --------------------------------------------------------------------
    @abc.abstractmethod
    def put_manifest(
        self, repository: str, digest: Digest, media_type: str, data: bytes,
        tags: list[str], subject: Digest | None, referrer: dict | None, blobs: list[Digest],
    ) -> list[Digest]:
        """Store a manifest's exact bytes, point `tags` at it, record it as a referrer of `subject`.

        `blobs` are the digests it references; returns those missing from the repository (in which
        case nothing was stored). Atomic with respect to GC: referenced blobs are kept alive.
        """

    @abc.abstractmethod
    def manifest(self, repository: str, digest: Digest) -> ManifestInfo | None:
        """A manifest revision of the repository, or None."""

    @abc.abstractmethod
    def resolve_tag(self, repository: str, tag: str) -> Digest | None:
        """The digest a tag points at, or None."""

    @abc.abstractmethod
    def delete_manifest(self, repository: str, digest: Digest) -> bool:
        """Remove a revision, every tag pointing at it and its referrer entry."""

    @abc.abstractmethod
    def delete_tag(self, repository: str, tag: str) -> bool:
        """Remove one tag; the manifest stays reachable by digest."""

    @abc.abstractmethod
    def tags(self, repository: str) -> list[str] | None:
        """Tags of a repository in lexical order, or None if the repository does not exist."""

    @abc.abstractmethod
    def repositories(self) -> list[str]:
        """All repository names, sorted."""

    @abc.abstractmethod
    def referrers(self, repository: str, subject: Digest) -> list[dict]:
        """Descriptors of manifests whose `subject` is `subject`."""

    # --- GC primitives -------------------------------------------------------------------------
    @abc.abstractmethod
    def revisions(self, repository: str) -> Iterator[Digest]:
        """Every manifest digest stored in a repository (tagged or not)."""

    @abc.abstractmethod
    def layer_links(self, repository: str) -> Iterator[tuple[Digest, float]]:
        """Blobs linked into a repository, with the time each was last linked or reused."""

    @abc.abstractmethod
    def all_blobs(self) -> Iterator[BlobStat]:
        """Every committed blob with its last-use time and size."""

    def clock(self) -> float:
        """Now, in the clock the backend's last-use times are in (epoch seconds)."""
        return time.time()

    @contextlib.contextmanager
    def gc_lease(self) -> Iterator[bool]:
        """Held for a whole GC pass; yields False when another pass (any process) holds it.

        Deletions are safe against writers either way (`*_if_stale`); the lease keeps two passes
        from tombstoning and deleting the same objects at once.
        """
        yield True

    @abc.abstractmethod
    def delete_blob_if_stale(self, digest: Digest, cutoff: float) -> bool:
        """Delete a blob unless it was used at or after `cutoff` (re-checked under the GC lock)."""

    @abc.abstractmethod
    def unlink_blob_if_stale(self, repository: str, digest: Digest, cutoff: float) -> bool:
        """Unlink a repository's blob unless it was linked or reused at or after `cutoff`."""
