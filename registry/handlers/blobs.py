"""Blob pull and delete (end-2, end-10): HEAD/GET with Range, from any backend.

A local blob over 1 MiB is written to the socket from a worker thread (`direct`). Anything else
(object storage, TLS) is read in 1 MiB chunks in a worker thread, the next one while the previous
is written: on the shared 2-core benchmark machine that pulled a 200 MB blob faster than asyncio's
own sendfile (aiohttp's FileResponse), which refills the socket only when the event loop is
scheduled.
"""

from __future__ import annotations

import asyncio
import re
from typing import BinaryIO

from aiohttp import web

from .. import names
from ..errors import RegistryError
from ..storage import BlobInfo
from . import direct
from .base import State, io, offload, repo, state

_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})", re.ASCII)
_STREAM_CHUNK = 1 << 20


async def _find(request: web.Request) -> tuple[str, BlobInfo]:
    name = repo(request)
    digest = names.digest(request.match_info["digest"])
    info = await io(request, state(request).storage.blob, name, digest)
    if info is None:
        raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is not in {name}")
    return name, info


def _headers(info: BlobInfo) -> dict[str, str]:
    return {
        "Docker-Content-Digest": str(info.digest),
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a `Range` header asks for, None to send everything.

    RFC 9110 §14.1.2: `a-b`, `a-` and the suffix form `-n`; a range that selects nothing (`-0`,
    `a-b` with b < a, a start past the end) is 416. A header this code does not understand
    (several ranges, other units) is ignored, and the whole blob is sent.
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # suffix: the last n bytes
        n = int(match[2])
        first, last = max(size - n, 0), size - 1
        if n == 0 or size == 0:
            first, last = 1, 0
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
        if match[2] and int(match[2]) < first:
            last = -1
    if first > last or first >= size:
        raise RegistryError(
            "RANGE_INVALID", f"range {header[:100]!r} selects nothing of {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return first, last


async def head(request: web.Request) -> web.StreamResponse:
    """HEAD: existence and size, answered from one stat (the hottest request during a push)."""
    _, info = await _find(request)
    response = web.StreamResponse(status=200, headers=_headers(info))
    response.content_length = info.size
    return response


async def get(request: web.Request) -> web.StreamResponse:
    """GET: the bytes, or with `Range` the selected ones (206; 416 when nothing is selected)."""
    _, info = await _find(request)
    st = state(request)
    wanted = byte_range(request.headers.get("Range"), info.size)
    first, last = wanted if wanted is not None else (0, info.size - 1)
    response = web.StreamResponse(status=200 if wanted is None else 206, headers=_headers(info))
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    response.content_length = length = max(last - first + 1, 0)
    reader = await offload(st.storage.open_blob, info.digest, first, last)
    try:
        writer = await response.prepare(request)
        if writer is None or not await direct.send(request, writer, reader, st.config.client_timeout):
            await _stream(response, reader, st)
    finally:
        await offload(reader.close)
    st.metrics.add("registry_blob_bytes_sent_total", length)
    st.metrics.add("registry_blob_pulls_total")
    await response.write_eof()
    return response


async def _stream(response: web.StreamResponse, reader: BinaryIO, st: State) -> None:
    """The body through Python: 1 MiB reads in a worker thread, the next while this one is written."""
    pending = asyncio.ensure_future(offload(reader.read, _STREAM_CHUNK))
    try:
        while chunk := await pending:
            pending = asyncio.ensure_future(offload(reader.read, _STREAM_CHUNK))  # read ahead while writing
            await response.write(chunk)
    finally:
        if not pending.done():
            await asyncio.wait([pending])


async def delete(request: web.Request) -> web.StreamResponse:
    """DELETE: unlink from the repository; GC reclaims the bytes once nothing references them."""
    name = repo(request)
    digest = names.digest(request.match_info["digest"])
    if not await io(request, state(request).storage.unlink_blob, name, digest):
        raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is not in {name}")
    return web.Response(status=202, headers={"Content-Length": "0"})
