"""Running the registry: listen (optionally TLS), log one line per request, expire stale uploads.

The server is aiohttp on asyncio (uvloop when installed): request bodies are read as a stream and
written to storage as they arrive, blob downloads are streamed in 1 MiB chunks, so neither
direction ever holds a blob in memory (docs/registry.md explains the choice).
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

from . import documents, gc
from .app import make_app
from .config import Config, ConfigError
from .handlers.base import STATE

log = logging.getLogger("registry")
ACCESS_FORMAT = '%a "%r" %s %b %Tf "%{User-Agent}i"'
# on SIGTERM, requests still running get this long to finish before they are cancelled (aiohttp's
# default, 60 s, let one stalled upload hold a restart or a rolling deploy for a minute)
SHUTDOWN_GRACE = 3.0


class _OneLine(logging.Filter):
    """aiohttp logs a full traceback ("Error handling request") for every malformed request and
    every client that hangs up: a hostile or flaky client could fill the log with them. Those are
    the client's doing, and the access log already has the event's one line (400, or 499), so
    they are dropped; without an access log they become one line with the reason."""

    def __init__(self, access_log: bool):
        super().__init__()
        self.access_log = access_log

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, (HttpProcessingError, ConnectionError)):
            return True
        if self.access_log:
            return False
        reason = exc.message if isinstance(exc, HttpProcessingError) else (str(exc) or type(exc).__name__)
        message = record.getMessage()
        record.msg, record.args = "%s: %s", (message, " ".join(str(reason).split())[:200])
        record.exc_info = record.exc_text = None
        return True


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


async def _collect_garbage(app: web.Application) -> None:
    """Every `gc_interval` seconds, one GC pass (skipped when another instance holds the GC lease)."""
    st = app[STATE]
    while True:
        await asyncio.sleep(st.config.gc_interval)
        try:
            report = await asyncio.get_running_loop().run_in_executor(
                None, gc.run, st.storage, st.config, st.metrics
            )
        except Exception:  # noqa: BLE001 - a failed pass is logged and counted; the next one retries
            log.exception("gc pass failed")
            continue
        if report.deleted or report.unlinked:
            log.info("gc: %s", report.summary("removed"))


async def _listen(runner: web.AppRunner, config: Config) -> None:
    """Bind the listening socket; a busy port or an unusable address is one line, not a traceback."""
    host, port = config.host_port
    site = web.TCPSite(runner, host, port, ssl_context=_ssl_context(config), backlog=1024, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {config.addr}: {reason}") from None


async def serve(config: Config, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled (or SIGTERM/SIGINT when run from the CLI)."""
    # before listening, so that being up means validating at full speed from the first push
    await asyncio.get_running_loop().run_in_executor(None, documents.warm_up)
    app = make_app(config)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("registry.access") if config.access_log else None,
        access_log_format=ACCESS_FORMAT,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    server_log = logging.getLogger("aiohttp.server")
    one_line = _OneLine(config.access_log)
    server_log.addFilter(one_line)  # for as long as this server runs, whichever way it ends
    try:
        await _run(runner, app, config, ready)
    finally:
        server_log.removeFilter(one_line)


async def _run(runner: web.AppRunner, app: web.Application, config: Config, ready: asyncio.Event | None) -> None:
    host, port = config.host_port
    await runner.setup()
    try:
        await _listen(runner, config)
    except BaseException:
        await runner.cleanup()
        raise
    scheme = "https" if config.tls_cert else "http"
    where = f"s3://{config.s3_bucket}/{config.s3_prefix}" if config.storage == "s3" else f"root {config.root}"
    log.info("imgtool registry listening on %s://%s:%d (%s)", scheme, host, port, where)
    tasks = [asyncio.create_task(_expire_uploads(app))]
    if config.gc_interval > 0:
        tasks.append(asyncio.create_task(_collect_garbage(app)))
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await runner.cleanup()


def _raise_open_files_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: every client connection, upload file and
    blob being sent holds a descriptor, and the usual soft default (1024) made a few hundred
    concurrent pushers hit EMFILE (accept fails, the listener stalls) long before the hard limit
    the administrator allowed. epoll has no FD_SETSIZE ceiling, so nothing needs the low limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # e.g. an infinite hard limit above fs.nr_open
            log.warning("open files limit stays at %d: cannot raise it to %d (%s)", soft, target, exc)


def run(config: Config) -> None:
    """Blocking entry point for the CLI: log to stderr, serve until SIGINT/SIGTERM."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    _raise_open_files_limit()
    if config.storage == "filesystem":
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
