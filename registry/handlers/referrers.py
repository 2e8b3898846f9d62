"""Referrers API (end-12a/12b): manifests whose `subject` is a digest, as an image index."""

from __future__ import annotations

import json

from aiohttp import web

from imgtool.oci import mediatype

from .. import names
from .base import repo, state


async def list_referrers(request: web.Request) -> web.StreamResponse:
    """GET /v2/<name>/referrers/<digest>[?artifactType=]: always 200 (an empty index if none)."""
    name = repo(request)
    subject = names.digest(request.match_info["digest"])
    descriptors = state(request).storage.referrers(name, subject)
    headers = {}
    wanted = request.query.get("artifactType")
    if wanted is not None:
        descriptors = [d for d in descriptors if d.get("artifactType") == wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": descriptors}
    headers["Content-Type"] = mediatype.OCI_INDEX
    return web.Response(body=json.dumps(body).encode(), headers=headers)
