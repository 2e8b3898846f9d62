"""Referrers API (end-12a/12b): manifests whose `subject` is a digest, as an image index."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from imgtool.oci import mediatype

from .. import names
from ..errors import RegistryError
from .base import PAGE_SIZE, io, repo, state


async def list_referrers(request: web.Request) -> web.StreamResponse:
    """GET /v2/<name>/referrers/<digest>[?artifactType=]: always 200 (an empty index if none).

    Sorted by digest and paged: at most `max_referrers_page` descriptors per response, then
    `Link: rel="next"` (MUST when the list does not fit). The filter applies before paging and
    carries over into the next link, and each filtered page says `OCI-Filters-Applied`.
    """
    name = repo(request)
    st = state(request)
    subject = names.digest(request.match_info["digest"])
    descriptors = sorted(await io(request, st.storage.referrers, name, subject), key=lambda d: d.get("digest", ""))
    headers = {"Content-Type": mediatype.OCI_INDEX}
    query: dict[str, str] = {}
    wanted = request.query.get("artifactType")
    if wanted is not None:
        descriptors = [d for d in descriptors if d.get("artifactType") == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
        query["artifactType"] = wanted
    limit = st.config.max_referrers_page
    n_text = request.query.get("n")
    if n_text is not None:
        if not PAGE_SIZE.fullmatch(n_text):
            raise RegistryError("PAGINATION_NUMBER_INVALID", f"invalid page size n={n_text[:30]!r}")
        limit = max(1, min(int(n_text), limit))
    last = request.query.get("last")
    if last is not None:
        descriptors = [d for d in descriptors if d.get("digest", "") > last]
    chosen = descriptors[:limit]
    if len(descriptors) > limit:
        query.update(n=str(limit), last=chosen[-1]["digest"])
        headers["Link"] = f'</v2/{name}/referrers/{subject}?{urlencode(query)}>; rel="next"'
    body = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": chosen}
    return web.Response(body=json.dumps(body).encode(), headers=headers)
