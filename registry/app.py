"""The aiohttp application: routes, who may call them, and the middlewares every request passes.

Each route names the access it needs (`pull`, `push`, `delete`, or the catalog); the auth
middleware checks it *before* the handler runs, so an unauthorised push is refused without its body
being read. The error middleware is the one place that turns failures into the spec's JSON errors
and records metrics.
"""

from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

from aiohttp import web

from . import auth, names
from .auth import Need
from .config import Config
from .errors import RegistryError
from .handlers import blobs, manifests, referrers, tags, uploads
from .handlers.base import STATE, State, offload, state
from .limits import Limits
from .metrics import Metrics
from .storage import open_storage

log = logging.getLogger("registry")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NAME = "/v2/{name:.+}"
# (method, path, handler, actions needed on the repository in the path)
ROUTES: list[tuple[str, str, Handler, tuple[str, ...]]] = [
    ("POST", _NAME + "/blobs/uploads/", uploads.start, ("pull", "push")),
    ("GET", _NAME + "/blobs/uploads/{upload_id}", uploads.status, ("pull", "push")),
    ("PATCH", _NAME + "/blobs/uploads/{upload_id}", uploads.patch, ("pull", "push")),
    ("PUT", _NAME + "/blobs/uploads/{upload_id}", uploads.put, ("pull", "push")),
    ("DELETE", _NAME + "/blobs/uploads/{upload_id}", uploads.cancel, ("pull", "push")),
    ("HEAD", _NAME + "/blobs/{digest}", blobs.head, ("pull",)),
    ("GET", _NAME + "/blobs/{digest}", blobs.get, ("pull",)),
    ("DELETE", _NAME + "/blobs/{digest}", blobs.delete, ("delete",)),
    ("HEAD", _NAME + "/manifests/{reference}", manifests.head, ("pull",)),
    ("GET", _NAME + "/manifests/{reference}", manifests.get, ("pull",)),
    ("PUT", _NAME + "/manifests/{reference}", manifests.put, ("pull", "push")),
    ("DELETE", _NAME + "/manifests/{reference}", manifests.delete, ("delete",)),
    ("GET", _NAME + "/tags/list", tags.list_tags, ("pull",)),
    ("GET", _NAME + "/referrers/{digest}", referrers.list_referrers, ("pull",)),
]
_NEEDS: dict[Handler, tuple[str, ...]] = {handler: actions for _, _, handler, actions in ROUTES}
_CATALOG = Need("registry", "catalog", ("*",))
_WRITES = {"push", "delete"}


async def api_version(request: web.Request) -> web.StreamResponse:
    """GET /v2/ (end-1): the API is here, and the caller is authenticated."""
    return web.json_response({})


async def healthz(request: web.Request) -> web.StreamResponse:
    """GET /healthz (liveness): the process answers. Never touches storage, so a slow bucket does
    not get healthy instances restarted."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.StreamResponse:
    """GET /readyz (readiness): 200 while storage answers a cheap probe, else 503 so a load
    balancer sends traffic to the other instances."""
    error = await offload(state(request).storage.probe)
    if error:
        return web.Response(status=503, text=f"storage unavailable: {error}\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.StreamResponse:
    """GET /metrics: Prometheus text format."""
    return web.Response(text=state(request).metrics.render(), content_type="text/plain", charset="utf-8")


def _need(request: web.Request, handler: Handler) -> Need | None:
    if handler is tags.catalog:
        return _CATALOG
    actions = _NEEDS.get(handler)
    if actions is None:
        return None
    return Need("repository", names.repository(request.match_info["name"]), actions)


def _wanted(request: web.Request, handler: Handler) -> tuple[Need, ...]:
    """Access a request uses when granted: pull on a mount's `from` (a valid name; a bad one is the
    handler's NAME_INVALID)."""
    source = request.query.get("from")
    if handler is not uploads.start or "mount" not in request.query or source is None:
        return ()
    try:
        return (Need("repository", names.repository(source), ("pull",)),)
    except RegistryError:
        return ()


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the route's access before the handler (and before any body is read)."""
    route_handler = request.match_info.route.handler
    if route_handler in (healthz, readyz, metrics) or request.match_info.http_exception is not None:
        return await handler(request)
    st = state(request)
    if route_handler == getattr(st.auth, "token_endpoint", None):
        return await handler(request)
    need = _need(request, route_handler)
    if need is not None and st.config.read_only and _WRITES & set(need.actions):
        raise RegistryError("UNSUPPORTED", "this registry is read-only")
    request[auth.USER] = await st.auth.authorize(request, need, _wanted(request, route_handler))
    return await handler(request)


CLIENT_CLOSED = 499  # nginx's "client closed request": nothing was sent, nobody is listening


def _client_gone(request: web.Request) -> bool:
    """Did the ConnectionError come from the client's side (its connection closed), rather than
    from storage (an S3 endpoint refusing, which stays a server error)?"""
    transport = request.transport
    return transport is None or transport.is_closing()


def _error_response(exc: RegistryError) -> web.Response:
    response = web.Response(status=exc.status, body=exc.body(), content_type="application/json")
    response.headers.update(exc.headers)
    return response


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Spec JSON errors for every failure, the API version header, and one metrics sample."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except RegistryError as exc:
        response = _error_response(exc)
    except web.HTTPException as exc:  # unknown route or method
        response = _error_response(RegistryError("UNSUPPORTED", exc.reason, status=exc.status))
    except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, the client gets a 500
        if isinstance(exc, ConnectionError) and _client_gone(request):
            # the client hung up mid-request (often mid-PUT): nginx's 499 in the one access-log
            # line, not aiohttp's 30-line traceback for what is the client's doing, not a bug
            response = web.Response(status=CLIENT_CLOSED)
        else:  # (a ConnectionError from storage too: aiohttp's log filter must not hide it)
            log.exception("internal error on %s %s", request.method, request.path)
            response = _error_response(RegistryError("UNKNOWN", "internal server error"))
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    state(request).metrics.observe(request.method, route, response.status, time.perf_counter() - started)
    return response


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    """Every response says the API version, streamed ones too (a blob GET sends its headers from
    the handler, before the error middleware sees the response)."""
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"


def make_app(config: Config) -> web.Application:
    """Build the application for `config` (storage opened, auth loaded, routes wired)."""
    app = web.Application(
        middlewares=[errors_and_metrics, authorize],
        handler_args={
            # a stalled client pins at most 2 x read_bufsize of body in this process (aiohttp's high water)
            "read_bufsize": 256 << 10,
            "keepalive_timeout": config.client_timeout,
            # bodies are stored as sent, never decoded: aiohttp inflated `Content-Encoding: gzip`, so
            # 48 kB on the wire became a 50 MB blob (and a bad gzip stream a 500); distribution
            # stores the bytes, and a digest is over the bytes the client sent
            "auto_decompress": False,
        },
    )
    app.on_response_prepare.append(_api_version)
    authorizer = auth.build(config)
    meter = Metrics()
    storage = open_storage(config, meter)
    app[STATE] = State(config=config, storage=storage, auth=authorizer, metrics=meter, limits=Limits(config))
    app.router.add_route("GET", "/v2/", api_version)
    app.router.add_route("GET", "/v2/_catalog", tags.catalog)
    for method, path, handler, _ in ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_route("GET", "/healthz", healthz)
    app.router.add_route("GET", "/readyz", readyz)
    app.router.add_route("GET", "/metrics", metrics)
    if isinstance(authorizer, auth.TokenAuthorizer):
        app.router.add_route("GET", "/token", authorizer.token_endpoint)
        app.router.add_route("POST", "/token", authorizer.token_endpoint)
    return app
