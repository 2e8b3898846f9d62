"""Blob uploads (end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14).

Monolithic (POST ?digest= with body, or POST then PUT), chunked (PATCH with Content-Range, in order
or 416), streamed (one PATCH without Content-Range, what skopeo sends) and cross-repository mount.
A session is bound to the repository and user that opened it; another repository's id is unknown.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from imgtool.oci.digest import Digest

from .. import names
from ..auth import Need
from ..errors import RegistryError
from ..storage import Upload
from .base import (
    blob_location, check_content_range, io, offload, receive_into, repo, state, upload_headers, user,
)


def _committed(name: str, digest: Digest) -> web.Response:
    return web.Response(
        status=201,
        headers={"Location": blob_location(name, digest), "Docker-Content-Digest": str(digest)},
    )


async def start(request: web.Request) -> web.StreamResponse:
    """POST: mount if asked and allowed (201), finish a single-POST upload (201), else open a session (202)."""
    name = repo(request)
    st = state(request)
    mount = request.query.get("mount")
    if mount is not None and await _mount(request, name, names.digest(mount), request.query.get("from")):
        return _committed(name, names.digest(mount))
    algorithm = request.query.get("digest-algorithm", "sha256")
    if algorithm not in ("sha256", "sha512"):
        raise RegistryError("DIGEST_INVALID", f"unsupported digest algorithm {algorithm[:50]!r}")
    single = request.query.get("digest") if request.body_exists else None
    if single is not None:
        digest = names.digest(single)
        algorithm = digest.algorithm
    upload = await offload(st.storage.start_upload, name, user(request), algorithm)
    st.metrics.add("registry_upload_sessions_started_total")
    if single is None:
        return web.Response(status=202, headers=upload_headers(name, upload))
    await receive_into(request, st.storage, upload, committing=True)
    await offload(st.storage.commit_upload, upload, digest)
    st.metrics.add("registry_upload_sessions_committed_total")
    return _committed(name, digest)


async def _mount(request: web.Request, name: str, digest: Digest, source: str | None) -> bool:
    """Link a blob the caller may pull into `name`. Without `from`, with `auto_mount` on, any
    repository the caller may pull that has the blob will do (automatic content discovery)."""
    st = state(request)
    if source is not None:
        candidates = [names.repository(source)]
    elif st.config.auto_mount:
        candidates = await offload(st.storage.repositories_with, digest)
    else:
        return False
    # `from` must be readable with the caller's credentials (the middleware asked for that scope);
    # a discovered source only by the user's rights, since no client can know to ask for it
    readable = st.auth.allows if source is not None else st.auth.user_allows
    for candidate in candidates:
        if readable(request, Need("repository", candidate, ("pull",))) and \
                await io(request, st.storage.blob, candidate, digest) is not None:
            return await offload(st.storage.link_blob, name, digest)
    return False


class _Session:
    """The caller's session, locked so two requests never interleave their bytes."""

    def __init__(self, request: web.Request):
        self.request = request
        self.name = repo(request)
        self.id = names.upload_id(request.match_info["upload_id"])

    async def __aenter__(self) -> Upload:
        locks = state(self.request).session_locks
        self.lock = locks.get(self.id) or locks.setdefault(self.id, asyncio.Lock())
        await self.lock.acquire()
        try:
            return await offload(state(self.request).storage.upload, self.id, self.name, user(self.request))
        except BaseException:
            self.lock.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()


async def patch(request: web.Request) -> web.StreamResponse:
    """PATCH: append a chunk (Content-Range must continue the upload) or a whole streamed body."""
    async with _Session(request) as upload:
        name = repo(request)
        expected = check_content_range(request, name, upload)
        await receive_into(request, state(request).storage, upload, expected)
        return web.Response(status=202, headers=upload_headers(name, upload))


async def put(request: web.Request) -> web.StreamResponse:
    """PUT ?digest=: append the optional last chunk, verify the digest, publish (201)."""
    if "digest" not in request.query:
        raise RegistryError("DIGEST_INVALID", "the digest query parameter is required")
    digest = names.digest(request.query["digest"])
    async with _Session(request) as upload:
        name = repo(request)
        storage = state(request).storage
        expected = check_content_range(request, name, upload)
        await receive_into(request, storage, upload, expected, committing=True)
        await offload(storage.commit_upload, upload, digest)
        state(request).metrics.add("registry_upload_sessions_committed_total")
        return _committed(name, digest)


async def status(request: web.Request) -> web.StreamResponse:
    """GET: how much the registry has (204 with Range), so a client can resume."""
    async with _Session(request) as upload:
        return web.Response(status=204, headers=upload_headers(repo(request), upload))


async def cancel(request: web.Request) -> web.StreamResponse:
    """DELETE: abandon the session and its bytes."""
    async with _Session(request) as upload:
        await offload(state(request).storage.cancel_upload, upload)
        state(request).metrics.add("registry_upload_sessions_cancelled_total")
        return web.Response(status=204)
