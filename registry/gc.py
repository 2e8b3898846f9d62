"""Online garbage collection: mark what manifests reference, sweep the rest after a grace window.

Safe while pushes run, because (1) nothing younger than `grace` seconds is ever deleted, which covers
blobs uploaded but not yet referenced by their manifest, and (2) every deletion re-checks the blob's
last-use time under the exclusive GC lock, while commits, mounts and manifest pushes refresh that time
under the shared lock (`storage.locks`). Untagged manifests are kept: they are still pullable by
digest. Returns a report instead of printing, so the CLI and tests decide what to show.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from imgtool.errors import ImgtoolError
from imgtool.oci.digest import Digest
from imgtool.oci.manifest import parse_document, references

from .storage import Storage

log = logging.getLogger("registry.gc")
_CLOCK_SLACK = 1.0  # seconds: file times (coarse kernel clock) may lag time.time() by a tick


@dataclass
class GcReport:
    """What a run found and did (with dry_run, what it would have done)."""

    manifests: int = 0
    marked: int = 0
    unlinked: list[tuple[str, Digest]] = field(default_factory=list)
    deleted: list[Digest] = field(default_factory=list)
    expired_uploads: int = 0


def _references(storage: Storage, repository: str, digest: Digest) -> list[Digest]:
    """The manifest itself plus every blob it points at (config and layers)."""
    info = storage.manifest(repository, digest)
    if info is None:
        return []
    out = [digest]
    try:
        out += [d.digest for d in references(parse_document(info.media_type, info.data))]
    except ImgtoolError as exc:  # stored manifests were validated on push; keep going, keep the blobs
        log.warning("gc: %s@%s: %s", repository, digest, exc)
    return out


@dataclass
class Marks:
    """The mark phase's result: blobs each repository's manifests reference, and when it started."""

    cutoff: float
    per_repo: dict[str, set[Digest]] = field(default_factory=dict)
    manifests: int = 0

    @property
    def marked(self) -> set[Digest]:
        """Blobs referenced anywhere."""
        return set().union(*self.per_repo.values()) if self.per_repo else set()


def mark(storage: Storage, grace: float) -> Marks:
    """Walk every manifest of every repository and note what it references.

    The cutoff is fixed *before* marking: a blob a writer touches after this point is newer than
    the cutoff however long the pass takes, so something referenced after marking is never swept.
    File times come from the kernel's coarse clock, hence the extra slack.
    """
    marks = Marks(cutoff=time.time() - grace - _CLOCK_SLACK)
    for repository in storage.repositories():
        used: set[Digest] = set()
        for digest in storage.revisions(repository):
            marks.manifests += 1
            used.update(_references(storage, repository, digest))
        marks.per_repo[repository] = used
    return marks


def sweep(storage: Storage, marks: Marks, dry_run: bool = False) -> GcReport:
    """Unlink unreferenced blobs from repositories, then delete blobs nothing links or references.

    Each removal is conditional (`*_if_stale`): re-checked under the exclusive lock against the
    cutoff, so a blob a push refreshed since marking survives.
    """
    report = GcReport(manifests=marks.manifests)
    marked = marks.marked
    report.marked = len(marked)
    still_linked: set[Digest] = set()
    for repository, used in marks.per_repo.items():
        for digest, last_used in storage.layer_links(repository):
            if digest in used or last_used >= marks.cutoff:
                still_linked.add(digest)
            elif dry_run or storage.unlink_blob_if_stale(repository, digest, marks.cutoff):
                report.unlinked.append((repository, digest))
            else:
                still_linked.add(digest)
    for digest, last_used in storage.all_blobs():
        if digest in marked or digest in still_linked or last_used >= marks.cutoff:
            continue
        if dry_run or storage.delete_blob_if_stale(digest, marks.cutoff):
            report.deleted.append(digest)
    return report


def collect(storage: Storage, grace: float, upload_ttl: float, dry_run: bool = False) -> GcReport:
    """One full pass: mark, sweep, and (unless dry-run) expire abandoned upload sessions."""
    report = sweep(storage, mark(storage, grace), dry_run)
    if not dry_run:
        report.expired_uploads = storage.expire_uploads(time.time() - upload_ttl)
    return report
