"""Blob pull and delete (end-2, end-10): HEAD/GET with Range, served by sendfile."""

from __future__ import annotations

from aiohttp import web

from .. import names
from ..errors import RegistryError
from ..storage import BlobInfo
from .base import repo, state


def _find(request: web.Request) -> tuple[str, BlobInfo]:
    name = repo(request)
    digest = names.digest(request.match_info["digest"])
    info = state(request).storage.blob(name, digest)
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


async def head(request: web.Request) -> web.StreamResponse:
    """HEAD: existence and size, answered from one stat (the hottest request during a push)."""
    _, info = _find(request)
    response = web.StreamResponse(status=200, headers=_headers(info))
    response.content_length = info.size
    return response


async def get(request: web.Request) -> web.StreamResponse:
    """GET: the bytes, zero-copy via sendfile; `Range` gives 206 (or 416 when unsatisfiable)."""
    _, info = _find(request)
    state(request).metrics.add("registry_blob_pulls_total")
    return web.FileResponse(info.path, headers=_headers(info), chunk_size=1 << 20)


async def delete(request: web.Request) -> web.StreamResponse:
    """DELETE: unlink from the repository; GC reclaims the bytes once nothing references them."""
    name = repo(request)
    digest = names.digest(request.match_info["digest"])
    if not state(request).storage.unlink_blob(name, digest):
        raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is not in {name}")
    return web.Response(status=202, headers={"Content-Length": "0"})
