"""Replacing or creating a file atomically: readers see the old content or the new, never a mix or a stub.

The one implementation behind index.json, oci-layout, config.json, container state, pid files, saved
archives and the registry's small files. The temporary file lives in the destination's directory
(a rename is atomic only within one filesystem) and is removed if anything fails on the way.
`durable` adds fsync of the file and its directory, for what must survive a crash (store metadata);
runtime state under /run need not pay for it. `publish`/`create` are the first-writer-wins half:
content-addressed files (blobs, build cache records) are linked into place and never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from pathlib import Path
from typing import BinaryIO, Iterator


WRITEBACK_EVERY = 8 << 20  # writers of large files start writeback after each this many bytes


@functools.cache
def _sync_file_range():  # type: ignore[no-untyped-def]
    import ctypes  # loaded on the first large write only: small commands never pay for it

    return ctypes, getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range of a file to disk now, without waiting (Linux's
    sync_file_range(SYNC_FILE_RANGE_WRITE); nothing where there is none).

    A writer that calls it every `WRITEBACK_EVERY` bytes makes its final fsync wait only for the
    tail instead of the whole file: crash safety at nearly no latency cost (the registry's uploads,
    the store's blobs).
    """
    ctypes, call = _sync_file_range()
    if call is not None:
        call(fd, ctypes.c_int64(offset), ctypes.c_int64(length), ctypes.c_uint(2))  # SYNC_FILE_RANGE_WRITE


def fsync_dir(path: Path) -> None:
    """Persist a directory entry (a rename or link) across a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(dest: Path, durable: bool = True) -> Iterator[BinaryIO]:
    """A file to write that becomes `dest` when the block ends normally, and vanishes otherwise."""
    import tempfile  # writers only: commands that just read the store do not import it (start-up)

    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f  # type: ignore[misc]
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(dest.parent)


def write_bytes(dest: Path, data: bytes, durable: bool = True) -> None:
    """Replace a small file atomically with `data`."""
    with replacing(dest, durable) as f:
        f.write(data)


def publish(tmp: Path, dest: Path, sync_dir: bool = True) -> bool:
    """Atomically make `tmp` (already fsynced) visible as `dest` unless it exists; remove `tmp`.

    Returns True if this call created `dest`. A hard link never replaces an existing file, so
    content already published is not rewritten. `sync_dir=False` leaves the directory's fsync to a
    caller publishing many blobs at once (one fsync of `blobs/<alg>/` for all of them, before
    anything names them), or skips it for what need not survive a crash.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tmp, dest)
        created = True
    except FileExistsError:
        created = False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP):
            raise
        # filesystems without hard links: a rename is still atomic
        os.replace(tmp, dest)
        created = True
    finally:
        if tmp.exists():
            tmp.unlink()
    if created and sync_dir:
        fsync_dir(dest.parent)
    return created


def create(dest: Path, data: bytes, durable: bool = True) -> bool:
    """Create `dest` with `data` unless it exists (first writer wins); True if this call made it."""
    import tempfile  # writers only: commands that just read the store do not import it (start-up)

    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return publish(Path(tmp), dest, durable)
