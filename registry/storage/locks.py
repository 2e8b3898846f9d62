"""The lock GC shares with blob commits and manifest pushes, across processes (flock on a file).

Writers that make a blob reachable (commit, mount, manifest push) hold it *shared* while they
publish or touch the blobs they rely on; GC takes it *exclusive* for each single deletion and
re-checks the blob's last-use time inside it. So a blob is either refreshed before GC looks (and
kept), or deleted before the writer looks (and the writer sees it missing): never deleted after a
writer was told it exists. A new descriptor per critical section keeps concurrent holders in one
process independent (flock state belongs to the open file, not the process).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from imgtool.filelock import flock


class GcLock:
    """A reader/writer lock on `path`, held by pushes (shared) and GC deletions (exclusive)."""

    def __init__(self, path: Path):
        self.path = path

    def shared(self) -> contextlib.AbstractContextManager[None]:
        """Held while making blobs reachable."""
        return flock(self.path, exclusive=False)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Held by GC for one re-check-and-delete."""
        return flock(self.path)
