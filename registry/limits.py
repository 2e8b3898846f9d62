"""Bounds on what clients can make the server hold: buffered bytes, idle time, CPU-heavy work.

Blob bodies stream to storage and cost a fixed buffer each; manifest bodies are buffered (up to
4 MiB each, they must be validated whole), so 150 clients that send a manifest and stall could pin
600 MB. Every buffered body therefore reserves its size from one shared budget first; when it is
spent, a new one waits (its bytes stay in the kernel, not in this process) and is refused with 429
after `client_timeout`. Every body read gives up after `client_timeout` seconds without data, or
once it falls below `min_body_rate` on average, and drops the connection (slowloris), freeing
what it held.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from .config import Config
from .errors import RegistryError


class ByteBudget:
    """A pool of bytes that buffered request bodies reserve before reading."""

    def __init__(self, total: int):
        self.total = total
        self.free = total
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def reserve(self, size: int, wait: float) -> AsyncIterator[None]:
        """Hold `size` bytes of the budget; TOOMANYREQUESTS if they do not free up within `wait`."""
        size = min(size, self.total)
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.free >= size), wait)
            except asyncio.TimeoutError:
                raise RegistryError(
                    "TOOMANYREQUESTS", "too many manifest uploads in flight", headers={"Retry-After": "5"}
                ) from None
            self.free -= size
        try:
            yield
        finally:
            async with self._changed:
                self.free += size
                self._changed.notify_all()


def drop(request: web.Request) -> None:
    """Close the client's connection (a slow or stalled client gets no further attention)."""
    if request.transport is not None:
        request.transport.close()


async def chunks(request: web.Request, config: Config) -> AsyncIterator[bytes]:
    """The request body as it arrives. A silence longer than `client_timeout` drops the client, and
    so does a body slower on average than `min_body_rate` once its first `client_timeout` seconds
    of credit are used up: the idle rule alone let one byte every 59 s hold a manifest's share of
    the budget (and a connection) forever."""
    loop = asyncio.get_running_loop()
    idle, rate = config.client_timeout, config.min_body_rate
    started, received = loop.time(), 0
    reason = f"no data for {idle:g} s"
    try:
        async with asyncio.timeout(idle) as deadline:
            while chunk := await request.content.readany():
                yield chunk
                received += len(chunk)
                now = loop.time()
                credit = started + idle + received / rate if rate > 0 else now + idle
                if credit < now + idle:
                    reason = f"body slower than {rate:g} bytes/s"
                deadline.reschedule(min(now + idle, credit))
    except TimeoutError:
        drop(request)
        raise RegistryError("BLOB_UPLOAD_INVALID", f"{reason}: request dropped", status=408) from None


async def body(request: web.Request, config: Config, limit: int, what: str) -> bytes:
    """A whole small body, at most `limit` bytes (else 413), read as `chunks` reads it."""
    parts, total = [], 0
    async for chunk in chunks(request, config):
        total += len(chunk)
        if total > limit:
            raise RegistryError("SIZE_INVALID", f"{what} exceeds {limit} bytes", status=413)
        parts.append(chunk)
    return b"".join(parts)


class Limits:
    """The server's shared limits (one instance per application)."""

    def __init__(self, config: Config):
        self.config = config
        self.buffered = ByteBudget(config.max_inflight_manifest_bytes)
        self.validation = asyncio.Semaphore(2)  # CPU-heavy validations at once: leave a core for I/O

    @contextlib.asynccontextmanager
    async def manifest_body(self, request: web.Request) -> AsyncIterator[Callable[[], Awaitable[bytes]]]:
        """Reserve budget for a manifest body, then offer a reader that caps it (413) and times out."""
        limit = self.config.max_manifest_bytes
        if request.content_length is not None and request.content_length > limit:
            raise RegistryError("SIZE_INVALID", f"manifest exceeds {limit} bytes", status=413)
        size = request.content_length if request.content_length is not None else limit

        async def read() -> bytes:
            return await body(request, self.config, limit, "manifest")

        async with self.buffered.reserve(size, self.config.client_timeout):
            yield read
