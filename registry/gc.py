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

from imgtool.oci.digest import Digest

from . import documents
from .config import Config
from .errors import RegistryError
from .metrics import Metrics
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
    freed_bytes: int = 0
    expired_uploads: int = 0
    skipped: bool = False  # another process held the GC lease: this pass did nothing

    def summary(self, verb: str) -> str:
        """One line: what was found and what was (or would be) removed."""
        if self.skipped:
            return "skipped: another garbage collection is running"
        return (
            f"{self.manifests} manifests, {self.marked} referenced blobs; {verb} {len(self.deleted)} blobs "
            f"({self.freed_bytes} bytes), {len(self.unlinked)} links, {self.expired_uploads} stale uploads"
        )


def _references(storage: Storage, repository: str, digest: Digest) -> list[Digest]:
    """The manifest itself plus everything it points at (config, layers, child manifests)."""
    info = storage.manifest(repository, digest)
    if info is None:
        return []
    try:
        return [digest, *documents.parse(info.media_type, info.data).children]
    except RegistryError as exc:  # stored manifests were validated on push; keep going
        log.warning("gc: %s@%s: %s", repository, digest, exc)
        return [digest]


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
    Last-use times come from the backend's clock (the kernel's coarse one, or an object store's
    whole seconds), hence the cutoff is in that clock and has a second of extra slack.
    """
    marks = Marks(cutoff=storage.clock() - grace - _CLOCK_SLACK)
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
    for blob in storage.all_blobs():
        if blob.digest in marked or blob.digest in still_linked or blob.last_used >= marks.cutoff:
            continue
        if dry_run or storage.delete_blob_if_stale(blob.digest, marks.cutoff):
            report.deleted.append(blob.digest)
            report.freed_bytes += blob.size
    return report


def collect(storage: Storage, grace: float, upload_ttl: float, dry_run: bool = False) -> GcReport:
    """One full pass under the GC lease: mark, sweep, and (unless dry-run) expire abandoned
    upload sessions. Skipped (report.skipped) while another process holds the lease."""
    with storage.gc_lease() as held:
        if not held:
            return GcReport(skipped=True)
        report = sweep(storage, mark(storage, grace), dry_run)
        if not dry_run:
            report.expired_uploads = storage.expire_uploads(time.time() - upload_ttl)
    return report


def run(storage: Storage, config: Config, metrics: Metrics | None = None, dry_run: bool = False) -> GcReport:
    """`collect` with the configured grace and TTL, counted in metrics (scheduled and CLI passes)."""
    try:
        report = collect(storage, config.gc_grace, config.upload_ttl, dry_run)
    except Exception:
        if metrics is not None:
            metrics.add("registry_gc_runs_total", result="error")
        raise
    if metrics is not None:
        metrics.add("registry_gc_runs_total", result="skipped" if report.skipped else "ok")
        if not report.skipped and not dry_run:
            metrics.add("registry_gc_freed_bytes_total", report.freed_bytes)
            metrics.add("registry_gc_deleted_blobs_total", len(report.deleted))
            metrics.set("registry_gc_last_success_timestamp_seconds", time.time())
    return report
