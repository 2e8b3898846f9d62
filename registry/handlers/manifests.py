"""Manifests (end-3, end-7a/7b, end-9): exact bytes in, exact bytes out.

A pushed manifest is size-capped (413), its media type must agree with its Content-Type, it must pass
the image-spec schema, and every blob it references must already be in the repository. Its `subject`
(which need not exist yet) makes it a referrer. Docker schema2 manifests and lists are accepted as-is.
"""

from __future__ import annotations

from aiohttp import web

from imgtool.errors import ImgtoolError
from imgtool.oci import mediatype
from imgtool.oci.digest import Digest, of_bytes
from imgtool.oci.manifest import parse_index, parse_manifest, references, sniff_media_type

from .. import names
from ..errors import RegistryError
from ..storage import ManifestInfo
from .base import offload, repo, state

_GENERIC_TYPES = {"", "application/octet-stream", "application/json", "text/plain"}


def _resolve(request: web.Request) -> tuple[str, Digest, ManifestInfo]:
    name = repo(request)
    reference = request.match_info["reference"]
    storage = state(request).storage
    if names.is_tag(reference):
        digest = storage.resolve_tag(name, reference)
        if digest is None:
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}:{reference} is unknown")
    else:
        digest = names.digest(reference)
    info = storage.manifest(name, digest)
    if info is None:
        raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}@{digest} is unknown")
    return name, digest, info


def _headers(info: ManifestInfo) -> dict[str, str]:
    return {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
    }


async def head(request: web.Request) -> web.StreamResponse:
    """HEAD: digest, type and size without the body (containerd's resolve step)."""
    _, _, info = _resolve(request)
    response = web.StreamResponse(status=200, headers=_headers(info))
    response.content_length = len(info.data)
    return response


async def get(request: web.Request) -> web.StreamResponse:
    """GET: the exact bytes pushed, with the media type they were pushed as."""
    _, _, info = _resolve(request)
    return web.Response(status=200, body=info.data, headers=_headers(info))


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` without reading past it."""
    if request.content_length is not None and request.content_length > limit:
        raise RegistryError("SIZE_INVALID", f"manifest exceeds {limit} bytes", status=413)
    parts, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise RegistryError("SIZE_INVALID", f"manifest exceeds {limit} bytes", status=413)
        parts.append(chunk)
    return b"".join(parts)


def _media_type(request: web.Request, data: bytes) -> str:
    """The type to validate against: a specific Content-Type, else what the document declares.

    `_describe` then requires the document's own `mediaType` to agree (GHSA-mc8v-mgrf-8f4m).
    """
    declared = request.headers.get("Content-Type", "").split(";")[0].strip()
    if declared not in _GENERIC_TYPES:
        return declared
    try:
        return sniff_media_type(data, "manifest")
    except ImgtoolError as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None


def _describe(media_type: str, data: bytes) -> tuple[list[Digest], Digest | None, dict]:
    """Validate the document; return the blobs it needs, its subject, and its referrer descriptor."""
    try:
        if mediatype.is_manifest(media_type):
            doc = parse_manifest(data)
            if doc.media_type != media_type:
                raise RegistryError("MANIFEST_INVALID", f"document is {doc.media_type}, not {media_type}")
            blobs = [d.digest for d in references(doc) if not d.urls]
            artifact_type = doc.artifact_type or doc.config.media_type
        elif mediatype.is_index(media_type):
            doc = parse_index(data)
            if doc.media_type != media_type:
                raise RegistryError("MANIFEST_INVALID", f"document is {doc.media_type}, not {media_type}")
            blobs, artifact_type = [], doc.artifact_type
        else:
            raise RegistryError("MANIFEST_INVALID", f"unsupported manifest media type {media_type[:100]!r}")
    except ImgtoolError as exc:
        if isinstance(exc, RegistryError):
            raise
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    referrer: dict = {"mediaType": media_type, "size": len(data)}
    if artifact_type:
        referrer["artifactType"] = artifact_type
    if doc.annotations:
        referrer["annotations"] = doc.annotations
    return blobs, (doc.subject.digest if doc.subject else None), referrer


async def put(request: web.Request) -> web.StreamResponse:
    """PUT by tag or digest (plus `?tag=` extras): validate, check blobs, store, 201."""
    name = repo(request)
    st = state(request)
    reference = request.match_info["reference"]
    data = await _read_capped(request, st.config.max_manifest_bytes)
    media_type = _media_type(request, data)
    blobs, subject, referrer = _describe(media_type, data)
    extra_tags = [names.tag(t) for t in request.query.getall("tag", [])]
    if names.is_tag(reference):
        digest, tags = of_bytes(data), [reference, *extra_tags]
    else:
        claimed = names.digest(reference)
        digest, tags = of_bytes(data, claimed.algorithm), extra_tags
        if digest != claimed:
            raise RegistryError("DIGEST_INVALID", f"manifest digest is {digest}, not {claimed}")
    referrer["digest"] = str(digest)
    missing = await offload(st.storage.put_manifest, name, digest, media_type, data, tags, subject, referrer, blobs)
    if missing:
        raise RegistryError(
            "MANIFEST_BLOB_UNKNOWN", f"blob {missing[0]} is not in {name}", detail={"missing": [str(m) for m in missing]}
        )
    response = web.Response(
        status=201, headers={"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": str(digest)}
    )
    if subject is not None:
        response.headers["OCI-Subject"] = str(subject)
    for tag in extra_tags:
        response.headers.add("OCI-Tag", tag)
    return response


async def delete(request: web.Request) -> web.StreamResponse:
    """DELETE by digest removes the manifest and its tags; by tag removes only the tag (202)."""
    name = repo(request)
    reference = request.match_info["reference"]
    storage = state(request).storage
    if names.is_tag(reference):
        found = storage.delete_tag(name, reference)
    else:
        found = await offload(storage.delete_manifest, name, names.digest(reference))
    if not found:
        raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}:{reference} is unknown")
    return web.Response(status=202)
