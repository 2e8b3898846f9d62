"""Manifests (end-3, end-7a/7b, end-9): exact bytes in, exact bytes out.

A pushed manifest is size-capped (413), its media type must agree with its Content-Type, it must pass
the image-spec schema, and every blob it references must already be in the repository. Its `subject`
(which need not exist yet) makes it a referrer. Docker schema2 manifests and lists are accepted as-is.
"""

from __future__ import annotations

from aiohttp import web

from imgtool.oci.digest import Digest, of_bytes

from .. import documents, names
from ..errors import RegistryError
from ..storage import ManifestInfo
from .base import io, offload, repo, state

_GENERIC_TYPES = {"", "application/octet-stream", "application/json", "text/plain"}


async def _resolve(request: web.Request) -> tuple[str, Digest, ManifestInfo]:
    """The manifest a GET/HEAD names. A reference that is neither a tag nor a digest names nothing:
    404 MANIFEST_UNKNOWN, as the conformance suite expects (distribution answers the same)."""
    name = repo(request)
    reference = request.match_info["reference"]
    storage = state(request).storage
    if names.is_tag(reference):
        digest = await io(request, storage.resolve_tag, name, reference)
    else:
        try:
            digest = names.digest(reference)
        except RegistryError:
            digest = None
    info = await io(request, storage.manifest, name, digest) if digest is not None else None
    if info is None:
        raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}:{reference[:200]} is unknown")
    return name, digest, info


def _headers(info: ManifestInfo) -> dict[str, str]:
    return {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
    }


async def head(request: web.Request) -> web.StreamResponse:
    """HEAD: digest, type and size without the body (containerd's resolve step)."""
    _, _, info = await _resolve(request)
    response = web.StreamResponse(status=200, headers=_headers(info))
    response.content_length = len(info.data)
    return response


async def get(request: web.Request) -> web.StreamResponse:
    """GET: the exact bytes pushed, with the media type they were pushed as."""
    _, _, info = await _resolve(request)
    return web.Response(status=200, body=info.data, headers=_headers(info))


def _media_type(content_type: str, doc: dict) -> str:
    """The type to validate against: a specific Content-Type, else what the document declares.

    `documents.describe` then requires the document's own `mediaType` to agree (GHSA-mc8v-mgrf-8f4m).
    """
    declared = content_type.split(";")[0].strip()
    return declared if declared not in _GENERIC_TYPES else documents.sniff(doc)


def _check(content_type: str, data: bytes) -> documents.Described:
    """Decode and validate (CPU-bound: runs in a worker thread, never on the event loop)."""
    doc = documents.load(data)
    return documents.describe(_media_type(content_type, doc), doc)


async def put(request: web.Request) -> web.StreamResponse:
    """PUT by tag or digest (plus `?tag=` extras): validate, check blobs, store, 201."""
    name = repo(request)
    st = state(request)
    reference = request.match_info["reference"]
    extra_tags = [names.tag(t) for t in request.query.getall("tag", [])]
    claimed = None if names.is_tag(reference) else names.digest(reference)
    async with st.limits.manifest_body(request) as read:
        data = await read()
        async with st.limits.validation:
            doc = await offload(_check, request.headers.get("Content-Type", ""), data)
    tags = extra_tags if claimed else [reference, *extra_tags]
    digest = of_bytes(data, claimed.algorithm if claimed else "sha256")
    if claimed is not None and digest != claimed:
        raise RegistryError("DIGEST_INVALID", f"manifest digest is {digest}, not {claimed}")
    referrer: dict = {"mediaType": doc.media_type, "digest": str(digest), "size": len(data)}
    if doc.artifact_type:
        referrer["artifactType"] = doc.artifact_type
    if doc.annotations:
        referrer["annotations"] = doc.annotations
    required = doc.blobs
    missing = await offload(st.storage.put_manifest, name, digest, doc.media_type, data, tags, doc.subject, referrer, required)
    while missing and st.config.sparse_manifests:  # keep alive the blobs that are here, need no others
        required = [b for b in required if b not in missing]
        missing = await offload(
            st.storage.put_manifest, name, digest, doc.media_type, data, tags, doc.subject, referrer, required
        )
    if missing:
        raise RegistryError(
            "MANIFEST_BLOB_UNKNOWN", f"blob {missing[0]} is not in {name}", detail={"missing": [str(m) for m in missing]}
        )
    response = web.Response(
        status=201, headers={"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": str(digest)}
    )
    if doc.subject is not None:
        response.headers["OCI-Subject"] = str(doc.subject)
    for tag in extra_tags:
        response.headers.add("OCI-Tag", tag)
    return response


async def delete(request: web.Request) -> web.StreamResponse:
    """DELETE by digest removes the manifest and its tags; by tag removes only the tag (202)."""
    name = repo(request)
    reference = request.match_info["reference"]
    storage = state(request).storage
    if names.is_tag(reference):
        found = await io(request, storage.delete_tag, name, reference)
    else:
        found = await offload(storage.delete_manifest, name, names.digest(reference))
    if not found:
        raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}:{reference} is unknown")
    return web.Response(status=202)
