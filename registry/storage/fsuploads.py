"""Upload sessions on the local filesystem: one directory per session, bytes hashed as they land.

`uploads/<id>/data` receives the bytes, `uploads/<id>/info.json` binds the session to its repository
and user. The running hash lives in this process (OpenSSL 3 hash state cannot be saved); a session
found on disk after a restart is re-hashed once from its data file, so it stays resumable. The data
file is later hard-linked into the CAS, so a committed blob is never copied.

At most `max_upload_sessions` sessions are open at once: each costs a folder, two inodes and a
few hundred bytes of memory for a day, and POSTs in a loop would otherwise fill the disk's inodes.
The data file is open only while a request writes to it. Holding it open for the session's life
(24 h by default) gave every idle session a descriptor: a client that opened sessions in a loop
ran the process out of them (EMFILE), and then no connection could be accepted.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from imgtool.atomicfile import WRITEBACK_EVERY, start_writeback
from imgtool.oci.digest import new_hasher

from ..errors import RegistryError
from .base import Upload

_CHUNK = 1 << 20


@dataclass
class _Live:
    """A session this process knows: its running hash (None until rebuilt after a restart)."""

    upload: Upload
    hasher: "object | None"
    synced: int = 0  # offset up to which writeback has been started


class UploadDir:
    """All sessions under one directory; thread-safe for distinct sessions."""

    def __init__(self, root: Path, fsync: bool = True, max_sessions: int = 0):
        self.root = root
        self.fsync = fsync
        self.max_sessions = max_sessions  # 0: no limit
        root.mkdir(parents=True, exist_ok=True)
        self._live: dict[str, _Live] = {}
        self._mutex = threading.Lock()

    def data_path(self, upload_id: str) -> Path:
        """Where a session's bytes are."""
        return self.root / upload_id / "data"

    def start(self, upload_id: str, repository: str, user: str, algorithm: str) -> Upload:
        """Create the session directory and its binding record; TOOMANYREQUESTS when
        `max_sessions` are open already (counted on disk: exact for every process on this root,
        and cheap, since the count stops at the limit)."""
        new_hasher(algorithm)  # rejects unknown algorithms before anything is created
        if self.max_sessions and self._count_reaches(self.max_sessions):
            raise RegistryError("TOOMANYREQUESTS", f"{self.max_sessions} upload sessions are open: finish or "
                                "cancel some first", headers={"Retry-After": "60"})
        session = self.root / upload_id
        session.mkdir()
        info = {"repository": repository, "user": user, "algorithm": algorithm, "created": time.time()}
        try:
            (session / "info.json").write_text(json.dumps(info))
            (session / "data").touch()
        except OSError:
            shutil.rmtree(session, ignore_errors=True)
            raise
        upload = Upload(upload_id, repository, user, algorithm)
        with self._mutex:
            self._live[upload_id] = _Live(upload, new_hasher(algorithm))
        return upload

    def get(self, upload_id: str, repository: str, user: str) -> Upload:
        """The session if it is bound to `repository` and `user` (CVE-2026-32589), else unknown."""
        live = self._open(upload_id)
        upload = live.upload if live else None
        if upload is None or upload.repository != repository or upload.user != user:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "unknown upload session")
        return upload

    def _open(self, upload_id: str) -> _Live | None:
        with self._mutex:
            live = self._live.get(upload_id)
            if live is not None:
                return live
            session = self.root / upload_id
            try:
                info = json.loads((session / "info.json").read_text())
                size = (session / "data").stat().st_size
            except (OSError, ValueError):
                return None
            upload = Upload(upload_id, info["repository"], info["user"], info["algorithm"], size)
            live = self._live[upload_id] = _Live(upload, None)
            return live

    def _hasher(self, live: _Live) -> object:
        """The session's running hash, rebuilt from its file if this process did not write it."""
        if live.hasher is None:
            live.hasher = hash_file(self.data_path(live.upload.id), live.upload.algorithm)
        return live.hasher

    def append(self, upload: Upload, parts: list[bytes]) -> None:
        """Write and hash each part as it came off the socket (no joined copy: a socket-sized part
        is written straight through the file's buffer, and hashed with the GIL released); the offset
        moves only once the bytes are written."""
        live = self._open(upload.id)
        if live is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session expired")
        hasher = self._hasher(live)
        with open(self.data_path(upload.id), "ab") as file:
            for data in parts:
                file.write(data)
                hasher.update(data)  # type: ignore[attr-defined]
                live.upload.offset += len(data)
            upload.offset = live.upload.offset
            if self.fsync and live.upload.offset - live.synced >= WRITEBACK_EVERY:
                file.flush()
                start_writeback(file.fileno(), live.synced, live.upload.offset - live.synced)
                live.synced = live.upload.offset

    def truncate(self, upload: Upload, offset: int) -> None:
        """Cut the data back to `offset`; the running hash is rebuilt from the file when next needed."""
        live = self._open(upload.id)
        if live is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session expired")
        os.truncate(self.data_path(upload.id), offset)
        live.hasher = None
        live.upload.offset = upload.offset = offset
        live.synced = min(live.synced, offset)

    def finish(self, upload: Upload, algorithm: str) -> tuple[str, int]:
        """Close the data file (fsynced) and return (hex digest in `algorithm`, size)."""
        live = self._open(upload.id)
        if live is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session expired")
        if self.fsync:
            with open(self.data_path(upload.id), "rb") as file:
                os.fsync(file.fileno())
        if algorithm == live.upload.algorithm:
            hexdigest = self._hasher(live).hexdigest()  # type: ignore[attr-defined]
        else:
            hexdigest = hash_file(self.data_path(upload.id), algorithm).hexdigest()
        return hexdigest, live.upload.offset

    def _count_reaches(self, limit: int) -> bool:
        with os.scandir(self.root) as entries:
            return any(n >= limit for n, _ in enumerate(entries, 1))

    def remove(self, upload_id: str) -> None:
        """Forget a session and delete whatever is left of it."""
        with self._mutex:
            self._live.pop(upload_id, None)
        shutil.rmtree(self.root / upload_id, ignore_errors=True)

    def expire(self, older_than: float) -> int:
        """Remove sessions whose data was last written before `older_than` (epoch seconds)."""
        removed = 0
        for session in list(self.root.iterdir()):
            try:  # the directory's own time covers a session created a moment ago, still empty
                last = max([session.stat().st_mtime, *(p.stat().st_mtime for p in session.iterdir())])
            except OSError:
                continue
            if last < older_than:
                self.remove(session.name)
                removed += 1
        return removed


def hash_file(path: Path, algorithm: str) -> object:
    """A hasher fed with a whole file (restart recovery, or a digest in another algorithm)."""
    hasher = new_hasher(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher
