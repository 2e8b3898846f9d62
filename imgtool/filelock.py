"""Advisory locks between processes: flock(2) on a lock file, shared or exclusive.

The one implementation behind the store's index and GC locks, the registry's GC lock, container
records and names, `sharing=locked` cache mounts and the client's blob-location cache. A new
descriptor per critical section keeps concurrent holders in one process independent (flock state
belongs to the open file description, not the process), and closing it releases the lock even if
the holder is killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def flock(path: Path, exclusive: bool = True, mode: int = 0o644) -> Iterator[None]:
    """Hold a lock on `path` (created if missing, with `mode`) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
