"""Running the registry: listen (optionally TLS), log one line per request, expire stale uploads.

The server is aiohttp on asyncio (uvloop when installed): request bodies are read as a stream and
written to disk as they arrive, blob downloads go through `FileResponse`, which uses `sendfile(2)`,
so neither direction ever holds a blob in memory (docs/registry.md explains the choice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import sys
import time

from aiohttp import web

from .app import make_app
from .config import Config
from .handlers.base import STATE

log = logging.getLogger("registry")
ACCESS_FORMAT = '%a "%r" %s %b %Tf "%{User-Agent}i"'


def _ssl_context(config: Config) -> ssl.SSLContext | None:
    if config.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    return context


async def _expire_uploads(app: web.Application) -> None:
    """Every few minutes, drop upload sessions idle for longer than `upload_ttl`."""
    st = app[STATE]
    interval = max(1.0, min(st.config.upload_ttl / 4, 600.0))
    while True:
        await asyncio.sleep(interval)
        cutoff = time.time() - st.config.upload_ttl
        removed = await asyncio.get_running_loop().run_in_executor(None, st.storage.expire_uploads, cutoff)
        if removed:
            log.info("expired %d stale upload sessions", removed)


async def serve(config: Config, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled (or SIGTERM/SIGINT when run from the CLI)."""
    app = make_app(config)
    host, port = config.host_port
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("registry.access") if config.access_log else None,
        access_log_format=ACCESS_FORMAT,
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=_ssl_context(config), backlog=1024, reuse_address=True)
    await site.start()
    scheme = "https" if config.tls_cert else "http"
    log.info("imgtool registry listening on %s://%s:%d (root %s)", scheme, host, port, config.root)
    expiry = asyncio.create_task(_expire_uploads(app))
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        expiry.cancel()
        await runner.cleanup()


def run(config: Config) -> None:
    """Blocking entry point for the CLI: log to stderr, serve until SIGINT/SIGTERM."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    config.root.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(ImportError):
        import uvloop  # type: ignore[import-not-found]

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def main() -> None:
        task = asyncio.ensure_future(serve(config))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
