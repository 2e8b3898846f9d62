"""What every handler shares: the app's state, validated path parameters, body streaming, paging.

Handlers never build paths or parse URLs themselves; they take names, digests and references from
here, already validated, and hand them to `Storage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import quote
from weakref import WeakValueDictionary

from aiohttp import web

from imgtool.oci.digest import Digest

from .. import limits, names
from ..auth import USER, Authorizer
from ..config import Config
from ..errors import RegistryError
from ..limits import Limits
from ..metrics import Metrics
from ..storage import Storage, Upload

T = TypeVar("T")
_CHUNK = 1 << 20  # bytes handed to the writer thread at a time: large enough to amortise the hop


@dataclass
class State:
    """Everything the handlers need, stored once on the application."""

    config: Config
    storage: Storage
    auth: Authorizer
    metrics: Metrics
    limits: Limits
    session_locks: "WeakValueDictionary[str, asyncio.Lock]" = field(default_factory=WeakValueDictionary)


STATE = web.AppKey("state", State)


def state(request: web.Request) -> State:
    """The application's shared state."""
    return request.app[STATE]


def repo(request: web.Request) -> str:
    """The repository named in the path (validated by the auth middleware first, again here)."""
    return names.repository(request.match_info["name"])


def user(request: web.Request) -> str:
    """Who the auth middleware decided is making the request ("" when anonymous or auth is off)."""
    return request.get(USER, "")


async def offload(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking storage work (fsync, hashing, renames) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))


async def io(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """A storage call: inline when the backend is local and cheap (a stat, a small read), in a
    worker thread when every call is a network round trip (object storage)."""
    if state(request).storage.remote:
        return await offload(fn, *args)
    return fn(*args)


async def receive_into(
    request: web.Request, storage: Storage, upload: Upload, expected: int | None = None, committing: bool = False
) -> int:
    """Stream the request body into an upload session; returns bytes received.

    The body is never held whole: chunks of ~1 MiB are hashed and written in a worker thread while
    the next chunk is read from the socket (one in flight), so memory stays flat for any blob size.
    With `expected` (a chunk's Content-Range length), a body of any other length is refused with 416
    and the session is put back where it was, whatever the framing (Content-Length or chunked).
    Unless the caller commits right after (`committing`), the bytes are then synced so that the
    next request may go to any instance.
    """
    loop = asyncio.get_running_loop()
    st = state(request)
    pending: asyncio.Future | None = None
    parts: list[bytes] = []
    start, buffered, total = upload.offset, 0, 0
    st.metrics.add("registry_upload_requests_in_flight", 1)
    try:
        async for chunk in limits.chunks(request, st.config):
            total += len(chunk)
            if expected is not None and total > expected:
                break
            parts.append(chunk)
            buffered += len(chunk)
            if buffered >= _CHUNK:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, storage.append, upload, parts)
                parts, buffered = [], 0
        if pending is not None:
            await pending
        if parts:
            await loop.run_in_executor(None, storage.append, upload, parts)
        if expected is not None and total != expected:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID",
                f"chunk body is {'longer' if total > expected else total} bytes, its Content-Range says {expected}",
                status=416,
            )
        if not committing:
            await offload(storage.sync, upload)
    except BaseException as exc:
        # a request that fails is dropped whole: the session stays where the previous one left it
        if pending is not None and not pending.done():
            await asyncio.wait([pending])
        with contextlib.suppress(RegistryError):
            await offload(storage.truncate, upload, start)
        if isinstance(exc, RegistryError) and exc.status == 416:
            exc.headers.update(upload_headers(repo(request), upload))
        raise
    finally:
        st.metrics.add("registry_upload_requests_in_flight", -1)
    st.metrics.add("registry_blob_bytes_received_total", total)
    return total


def blob_location(name: str, digest: Digest) -> str:
    """Relative URL of a blob (same origin, so clients never send credentials elsewhere)."""
    return f"/v2/{name}/blobs/{digest}"


def upload_location(name: str, upload_id: str) -> str:
    """Relative URL of an upload session."""
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def upload_headers(name: str, upload: Upload) -> dict[str, str]:
    """Location, Range (inclusive end of what was received) and session id of an upload."""
    return {
        "Location": upload_location(name, upload.id),
        "Range": f"0-{max(upload.offset - 1, 0)}",
        "Docker-Upload-UUID": upload.id,
    }


_RANGE = re.compile(r"(?:bytes[= ])?([0-9]{1,18})-([0-9]{1,18})", re.ASCII)


def check_content_range(request: web.Request, name: str, upload: Upload) -> int | None:
    """Chunks must arrive in order: Content-Range must start where the session ends (else 416).

    Returns the chunk's length by its range (the body must then be exactly that long), or None
    without Content-Range (a streamed body of any length).
    """
    header = request.headers.get("Content-Range")
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    length = request.content_length
    if match is None:
        raise RegistryError("BLOB_UPLOAD_INVALID", f"malformed Content-Range {header[:100]!r}")
    start, end = int(match[1]), int(match[2])
    if start != upload.offset or end < start or (length is not None and length != end - start + 1):
        raise RegistryError(
            "BLOB_UPLOAD_INVALID",
            f"chunk {start}-{end} does not continue the upload at offset {upload.offset}",
            status=416,
            headers=upload_headers(name, upload),
        )
    return end - start + 1


PAGE_SIZE = re.compile(r"[0-9]{1,18}", re.ASCII)


def page(request: web.Request, items: list[str], limit: int, path: str) -> tuple[list[str], dict[str, str]]:
    """Apply `n` (capped at `limit`, never used to allocate) and `last`; a Link header if more remain."""
    n_text = request.query.get("n")
    last = request.query.get("last")
    if n_text is None:
        n = limit
    else:
        if not PAGE_SIZE.fullmatch(n_text):  # ASCII only: "²".isdigit() is True, int("²") fails
            raise RegistryError("PAGINATION_NUMBER_INVALID", f"invalid page size n={n_text[:30]!r}")
        n = min(int(n_text), limit)
    if last is not None:
        items = [i for i in items if i > last]
    chosen = items[:n]
    headers = {}
    if n > 0 and len(items) > n:
        headers["Link"] = f'<{path}?n={n}&last={quote(chosen[-1], safe="/")}>; rel="next"'
    return chosen, headers
