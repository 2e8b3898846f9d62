"""Upload sessions in the bucket, with no local state: any instance can continue any session.

    uploads/<id>/info.json     {"repository", "user", "algorithm", "created", "updated", "rev",
                                "size", "multipart", "parts": [[n, etag, size], ...], "tail"}
    uploads/<id>/tail-<rev>    bytes received after the last full part (less than a part)
    uploads/<id>/data          the assembled multipart object, briefly, at commit

Bytes arrive in ~1 MiB appends; every `part_size` bytes become one multipart part, the rest waits
in memory until the request ends, when `sync` writes it as the tail object and then `info.json`,
the one write that makes the new offset visible (a crash before it leaves the previous state
whole: a tail object is never rewritten, each revision has its own). A request that fails is
dropped whole, so a session is always at the end of some request that succeeded.

Between requests a session's tail stays in memory (the next PATCH appends to it without reading it
back), but only up to RETAINED_TAILS for all idle sessions together; beyond that the oldest are
dropped and re-read from the bucket when their session continues. Every idle session kept its
tail (up to a part, 8 MiB) for its whole life: 100 sessions each left one PATCH short of a part
pinned 800 MB.

The running hash cannot be handed to another process (OpenSSL 3 has no hash-state export), so an
instance hashes as bytes pass only while it has seen them all; a session finished elsewhere is
re-hashed by reading the assembled object back once, as distribution's S3 driver does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from imgtool.oci.digest import new_hasher

from ..errors import RegistryError
from .base import Upload
from .bucket import Bucket

_ROOT = "uploads/"
RETAINED_TAILS = 64 << 20  # bytes of idle sessions' tails kept in memory, all sessions together


@dataclass
class _Live:
    """What this process holds of a session between appends: the unsynced tail, maybe a hash."""

    state: dict[str, Any]
    tail: bytearray | None  # None: not read from the bucket yet
    hasher: Any | None  # None: some bytes went through another instance
    parts_added: list[list] = field(default_factory=list)


def _tail_size(state: dict[str, Any]) -> int:
    return state["size"] - sum(p[2] for p in state["parts"])


def _info(upload_id: str) -> str:
    return f"{_ROOT}{upload_id}/info.json"


def data_key(upload_id: str) -> str:
    """Where the multipart object of a session is assembled."""
    return f"{_ROOT}{upload_id}/data"


class S3Uploads:
    """Sessions as bucket objects plus one S3 multipart upload each (created at the first part)."""

    def __init__(self, bucket: Bucket, part_size: int):
        self.bucket = bucket
        self.part_size = part_size
        self._live: dict[str, _Live] = {}
        self._idle_tails: OrderedDict[str, int] = OrderedDict()  # idle sessions' tails, oldest first
        self._idle_bytes = 0
        self._mutex = threading.Lock()

    def _busy(self, upload_id: str) -> None:
        """A request works on the session: its tail may not be dropped now (caller holds the mutex)."""
        self._idle_bytes -= self._idle_tails.pop(upload_id, 0)

    def _idle(self, upload_id: str, live: _Live) -> None:
        """The session's request ended: keep its tail while the budget allows, dropping the oldest
        idle tails beyond it (caller holds the mutex)."""
        self._busy(upload_id)
        if live.tail:
            self._idle_tails[upload_id] = len(live.tail)
            self._idle_bytes += len(live.tail)
        while self._idle_bytes > RETAINED_TAILS:
            oldest, size = self._idle_tails.popitem(last=False)
            self._idle_bytes -= size
            if oldest in self._live:
                self._live[oldest].tail = None  # re-read from its tail object when needed

    def _load(self, upload_id: str) -> dict[str, Any] | None:
        raw = self.bucket.get(_info(upload_id))
        return json.loads(raw) if raw is not None else None

    def start(self, upload_id: str, repository: str, user: str, algorithm: str) -> Upload:
        """Record a new empty session."""
        new_hasher(algorithm)  # rejects unknown algorithms before anything is written
        now = time.time()
        state = {"repository": repository, "user": user, "algorithm": algorithm, "created": now, "updated": now,
                 "rev": 0, "size": 0, "multipart": None, "parts": [], "tail": None}
        self.bucket.put(_info(upload_id), json.dumps(state).encode())
        with self._mutex:
            self._live[upload_id] = _Live(state, bytearray(), new_hasher(algorithm))
        return Upload(upload_id, repository, user, algorithm, 0)

    def get(self, upload_id: str, repository: str, user: str) -> Upload:
        """The session as stored, if bound to this repository and user.

        This process's copy (unsynced tail, running hash) is kept only if it is exactly the stored
        revision; otherwise another instance moved the session on, or a request of ours failed
        half-way, and the copy is dropped: the bytes are re-read from the bucket when needed.
        """
        state = self._load(upload_id)
        if state is None or state["repository"] != repository or state["user"] != user:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "unknown upload session")
        with self._mutex:
            self._busy(upload_id)
            live = self._live.get(upload_id)
            current = (
                live is not None and live.state["rev"] == state["rev"] and not live.parts_added
                and (live.tail is None or len(live.tail) == _tail_size(state))
            )
            if not current:
                self._live[upload_id] = _Live(state, None, new_hasher(state["algorithm"]) if not state["size"] else None)
        return Upload(upload_id, repository, user, state["algorithm"], state["size"])

    def _live_of(self, upload: Upload) -> _Live:
        with self._mutex:
            live = self._live.get(upload.id)
        if live is None:
            self.get(upload.id, upload.repository, upload.user)
            with self._mutex:
                live = self._live[upload.id]
        if live.tail is None:
            name = live.state["tail"]
            live.tail = bytearray(self.bucket.get(f"{_ROOT}{upload.id}/{name}") or b"") if name else bytearray()
        return live

    def append(self, upload: Upload, parts: list[bytes]) -> None:
        """Add bytes at the end; every full part goes to S3 now, the rest at `sync`."""
        live = self._live_of(upload)
        assert live.tail is not None
        added = 0
        for data in parts:
            live.tail += data
            if live.hasher is not None:
                live.hasher.update(data)
            added += len(data)
        while len(live.tail) >= self.part_size:
            self._flush_part(upload.id, live, bytes(live.tail[: self.part_size]))
            del live.tail[: self.part_size]
        upload.offset += added

    def _flush_part(self, upload_id: str, live: _Live, data: bytes) -> None:
        state = live.state
        if state["multipart"] is None:
            state["multipart"] = self.bucket.start_multipart(data_key(upload_id))
        number = len(state["parts"]) + len(live.parts_added) + 1
        etag = self.bucket.upload_part(data_key(upload_id), state["multipart"], number, data)
        live.parts_added.append([number, etag, len(data)])

    def sync(self, upload: Upload) -> None:
        """Publish what this request appended: the tail object, then the new info.json."""
        with self._mutex:
            live = self._live.get(upload.id)
        if live is None or live.tail is None:
            return
        state = dict(live.state)
        state["parts"] = state["parts"] + live.parts_added
        state["rev"] += 1
        state["size"] = upload.offset
        state["updated"] = time.time()
        old_tail, state["tail"] = state["tail"], (f"tail-{state['rev']}" if live.tail else None)
        if live.tail:
            self.bucket.put(f"{_ROOT}{upload.id}/{state['tail']}", bytes(live.tail))
        self.bucket.put(_info(upload.id), json.dumps(state).encode())
        if old_tail:
            self.bucket.delete(f"{_ROOT}{upload.id}/{old_tail}")
        with self._mutex:
            self._live[upload.id] = _Live(state, live.tail, live.hasher)
            self._idle(upload.id, self._live[upload.id])

    def rollback(self, upload: Upload) -> None:
        """Forget what this process appended since the last sync (a refused or broken request)."""
        with self._mutex:
            self._live.pop(upload.id, None)
            self._busy(upload.id)
        state = self._load(upload.id)
        upload.offset = state["size"] if state else 0

    def assemble(self, upload: Upload) -> tuple[str | None, bytes | None, str | None]:
        """Finish the bytes: (key of the assembled object, or the bytes themselves if they fit in
        one small object, and the hex digest in the session's algorithm if this process knows it)."""
        live = self._live_of(upload)
        assert live.tail is not None
        hexdigest = live.hasher.hexdigest() if live.hasher is not None else None
        state = live.state
        parts = state["parts"] + live.parts_added
        if state["multipart"] is None:
            return None, bytes(live.tail), hexdigest
        if live.tail:
            number = len(parts) + 1
            parts.append([number, self.bucket.upload_part(data_key(upload.id), state["multipart"], number,
                                                          bytes(live.tail)), len(live.tail)])
        self.bucket.complete_multipart(data_key(upload.id), state["multipart"], [(n, e) for n, e, _ in parts])
        return data_key(upload.id), None, hexdigest

    def remove(self, upload_id: str) -> None:
        """Abort the multipart upload and delete every object of the session."""
        with self._mutex:
            self._live.pop(upload_id, None)
            self._busy(upload_id)
        state = self._load(upload_id)
        if state and state.get("multipart"):
            self.bucket.abort_multipart(data_key(upload_id), state["multipart"])
        self.bucket.delete_many([e.key for e in self.bucket.list(f"{_ROOT}{upload_id}/")])

    def expire(self, older_than: float) -> int:
        """Remove sessions whose last successful request ended before `older_than` (epoch seconds).

        Ages come from info.json, never from ListMultipartUploads (moto reports one fixed date).
        """
        removed = 0
        for upload_id in self.bucket.folders(_ROOT):
            state = self._load(upload_id)
            updated = state["updated"] if state else 0.0
            if updated < older_than:
                self.remove(upload_id)
                removed += 1
        return removed
