"""The one layout both backends store content under, and what follows from it alone.

    blobs/<alg>/<hex>                                       content (manifests included)
    repositories/<name>/_layers/<alg>/<hex>                 blob linked into the repository
    repositories/<name>/_manifests/revisions/<alg>/<hex>    "<media type>\\n<subject digest>"
    repositories/<name>/_manifests/tags/<tag>               "<digest>"
    repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  referrer descriptor (JSON)

The filesystem backend keeps these as paths below its root, the S3 backend as object keys, so a
tree can be copied into a bucket and back. `LayoutStorage` implements the `Storage` methods that
are nothing but this layout (manifest records, tags, referrers, the repository walk, upload
bookkeeping) over five small primitives each backend provides; what differs between the backends
(how blobs are committed, touched and collected safely) stays in the backends.
"""

from __future__ import annotations

import json
from typing import Any

from imgtool.oci.digest import Digest

from .base import ManifestInfo, Storage, Upload


def blob_key(d: Digest) -> str:
    """A committed blob's content."""
    return f"blobs/{d.algorithm}/{d.encoded}"


def repo_key(name: str) -> str:
    """The folder of a repository (ends with `/`)."""
    return f"repositories/{name}/"


def link_key(name: str, d: Digest) -> str:
    """The link that makes a blob part of a repository."""
    return f"{repo_key(name)}_layers/{d.algorithm}/{d.encoded}"


def revision_key(name: str, d: Digest) -> str:
    """A manifest's record in a repository (see `revision_record`)."""
    return f"{repo_key(name)}_manifests/revisions/{d.algorithm}/{d.encoded}"


def tags_key(name: str) -> str:
    """The folder of a repository's tags (ends with `/`)."""
    return f"{repo_key(name)}_manifests/tags/"


def referrers_key(name: str, subject: Digest) -> str:
    """The folder of the manifests in a repository that refer to `subject` (ends with `/`)."""
    return f"{repo_key(name)}_referrers/{subject.algorithm}/{subject.encoded}/"


def referrer_key(name: str, subject: Digest, d: Digest) -> str:
    """One referrer's descriptor."""
    return f"{referrers_key(name, subject)}{d.algorithm}-{d.encoded}"


def revision_record(media_type: str, subject: Digest | None) -> bytes:
    """What a revision holds: the media type it was pushed as, and its subject (if any)."""
    return f"{media_type}\n{subject or ''}".encode()


def parse_revision(raw: bytes) -> tuple[str, Digest | None]:
    """(media type, subject) of a revision record."""
    media_type, _, subject = raw.decode().partition("\n")
    return media_type, Digest.parse(subject) if subject else None


class LayoutStorage(Storage):
    """The `Storage` methods that follow from the layout, over a backend's primitives:
    `_read`, `_write`, `_remove`, `_names` (entries of a folder) and `_folders` (its subfolders);
    keys are the layout's, relative to the backend's root."""

    uploads: Any  # the backend's upload sessions: get(id, repository, user), remove(id), expire(t)

    def _read(self, key: str) -> bytes | None:
        raise NotImplementedError

    def _write(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def _remove(self, key: str) -> bool:
        """Delete; False if it was not there."""
        raise NotImplementedError

    def _names(self, folder: str) -> list[str]:
        """The sorted entry names directly in `folder` (a `/`-terminated key), [] if none."""
        raise NotImplementedError

    def _folders(self, folder: str) -> list[str]:
        """The subfolder names directly in `folder` (a `/`-terminated key)."""
        raise NotImplementedError

    # --- uploads -------------------------------------------------------------------------------
    def upload(self, upload_id: str, repository: str, user: str) -> Upload:
        """See Storage.upload."""
        return self.uploads.get(upload_id, repository, user)

    def cancel_upload(self, upload: Upload) -> None:
        """See Storage.cancel_upload."""
        self.uploads.remove(upload.id)

    def expire_uploads(self, older_than: float) -> int:
        """See Storage.expire_uploads."""
        return self.uploads.expire(older_than)

    # --- manifests, tags, referrers ------------------------------------------------------------
    def _write_records(self, repository: str, digest: Digest, media_type: str, tags: list[str],
                       subject: Digest | None, referrer: dict | None) -> None:
        """A pushed manifest's revision, tags and referrer entry (its bytes are the caller's)."""
        self._write(revision_key(repository, digest), revision_record(media_type, subject))
        for tag in tags:
            self._write(tags_key(repository) + tag, str(digest).encode())
        if subject is not None and referrer is not None:
            self._write(referrer_key(repository, subject, digest), json.dumps(referrer).encode())

    def _record(self, repository: str, digest: Digest) -> tuple[str, Digest | None] | None:
        raw = self._read(revision_key(repository, digest))
        return None if raw is None else parse_revision(raw)

    def manifest(self, repository: str, digest: Digest) -> ManifestInfo | None:
        """See Storage.manifest."""
        record = self._record(repository, digest)
        data = self._read(blob_key(digest)) if record else None
        return ManifestInfo(digest, record[0], data) if record and data is not None else None

    def resolve_tag(self, repository: str, tag: str) -> Digest | None:
        """See Storage.resolve_tag."""
        raw = self._read(tags_key(repository) + tag)
        return Digest.parse(raw.decode()) if raw else None

    def delete_manifest(self, repository: str, digest: Digest) -> bool:
        """See Storage.delete_manifest: its tags and referrer entry go with it."""
        record = self._record(repository, digest)
        if record is None:
            return False
        for tag in self.tags(repository) or []:
            if self.resolve_tag(repository, tag) == digest:
                self._remove(tags_key(repository) + tag)
        if record[1] is not None:
            self._remove(referrer_key(repository, record[1], digest))
        self._remove(revision_key(repository, digest))
        return True

    def delete_tag(self, repository: str, tag: str) -> bool:
        """See Storage.delete_tag."""
        return self._remove(tags_key(repository) + tag)

    def tags(self, repository: str) -> list[str] | None:
        """See Storage.tags: None for a repository that does not exist."""
        found = self._names(tags_key(repository))
        if found:
            return found
        return [] if {"_manifests", "_layers"} & set(self._folders(repo_key(repository))) else None

    def repositories(self) -> list[str]:
        """See Storage.repositories: a repository is a folder with `_manifests` or `_layers`;
        any other folder not starting with `_` may hold more (names have slashes)."""
        names, stack = [], [""]
        while stack:
            current = stack.pop()
            children = self._folders(f"repositories/{current}")
            if "_manifests" in children or "_layers" in children:
                names.append(current.rstrip("/"))
            stack.extend(f"{current}{c}/" for c in children if not c.startswith("_"))
        return sorted(names)

    def referrers(self, repository: str, subject: Digest) -> list[dict]:
        """See Storage.referrers."""
        folder = referrers_key(repository, subject)
        out = []
        for name in self._names(folder):
            raw = self._read(folder + name)
            if raw is not None:  # None: deleted while listing
                out.append(json.loads(raw))
        return out
