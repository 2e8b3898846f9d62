"""Tag listing (end-8a/8b) and the catalog: sorted, paged with `n`/`last`, capped, `Link: rel=next`."""

from __future__ import annotations

from aiohttp import web

from ..errors import RegistryError
from .base import io, offload, page, repo, state


async def list_tags(request: web.Request) -> web.StreamResponse:
    """GET /v2/<name>/tags/list."""
    name = repo(request)
    st = state(request)
    tags = await io(request, st.storage.tags, name)
    if tags is None:
        raise RegistryError("NAME_UNKNOWN", f"repository {name} is unknown")
    chosen, headers = page(request, tags, st.config.max_tags_page, f"/v2/{name}/tags/list")
    return web.json_response({"name": name, "tags": chosen}, headers=headers)


async def catalog(request: web.Request) -> web.StreamResponse:
    """GET /v2/_catalog: repository names; `n` is capped, never trusted to size anything."""
    st = state(request)
    repositories = await offload(st.storage.repositories)
    chosen, headers = page(request, repositories, st.config.max_catalog_page, "/v2/_catalog")
    return web.json_response({"repositories": chosen}, headers=headers)

