"""One repository on a registry, in distribution-spec verbs: manifests, blobs, uploads, referrers.

Downloads are streams that resume with `Range` when the connection drops (and restart when the
server ignores Range). Large uploads stream in one `PATCH`; when the connection drops the client asks
the session where it stands (`GET` on the upload, `Range`) and sends the rest as a `PATCH` with
`Content-Range`, so nothing is sent twice. Small blobs go in one `POST` + `PUT`. Nothing here trusts what it receives:
callers verify digests and sizes, and manifests are size-capped before they are read.
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import BinaryIO, Callable
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit, parse_qsl

import requests
import urllib3

from imgtool.errors import DigestMismatchError, NotFoundError, RegistryError
from imgtool.oci import canonical, mediatype
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest, of_bytes
from imgtool.oci.manifest import Index, parse_index, sniff_media_type

from .auth import pull_scope, push_scope
from .bodies import read_capped
from .transport import Client, _retry_after
from .watchdog import cut_after

MANIFEST_LIMIT = 4 << 20
ACCEPT = ", ".join([mediatype.OCI_INDEX, mediatype.OCI_MANIFEST,
                    mediatype.DOCKER_MANIFEST_LIST, mediatype.DOCKER_MANIFEST])
MONOLITHIC = 16 << 20  # blobs up to this size go in one PUT
_READ = 1 << 20
# A blob download reconnects (with Range) when a read gets no byte for BLOB_STALL seconds, and
# when BLOB_WINDOW bytes take longer than that (under ~8 KiB/s: a trickle, not a slow link); it
# gives up after `retries` reconnects. It waited 60 s per read and 5 times over, and a registry
# that sent a byte every few seconds held it forever.
BLOB_STALL = 30.0
BLOB_WINDOW = 256 << 10
_STREAM_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


class Repository:
    """`host/name` on a registry, for pulling (and pushing, when `push=True`)."""

    def __init__(self, client: Client, name: str, push: bool = False):
        self.client = client
        self.name = name
        self.scopes = (push_scope(name),) if push else (pull_scope(name),)

    @property
    def where(self) -> str:
        return f"{self.client.host}/{self.name}"

    def _req(self, method: str, path: str, scopes: tuple[str, ...] | None = None, **kw) -> requests.Response:
        return self.client.request(method, path, scopes or self.scopes, **kw)

    # -- manifests -------------------------------------------------------------------------------
    def manifest(self, ref: str) -> tuple[bytes, str]:
        """The bytes and media type of a manifest or index by tag or digest (digest verified)."""
        r = self._req("GET", f"/v2/{self.name}/manifests/{ref}", headers={"Accept": ACCEPT}, stream=True)
        with r:
            if r.status_code == 404:
                raise NotFoundError(f"{self.where}:{ref}: manifest unknown")
            if r.status_code != 200:
                raise self.client.fail(r, f"GET manifest {ref}")
            data = read_capped(r, MANIFEST_LIMIT, f"{self.where}:{ref}: manifest", self.client.options.timeout)
        if ref.startswith(("sha256:", "sha512:")):
            try:
                Digest.parse(ref).verify(data)
            except DigestMismatchError:
                raise DigestMismatchError(f"{self.where}@{ref}: the registry sent a manifest with another digest") from None
        else:
            header = r.headers.get("Docker-Content-Digest", "")
            if header.startswith("sha256:") and header != str(of_bytes(data)):
                raise DigestMismatchError(f"{self.where}:{ref}: manifest does not match Docker-Content-Digest {header}")
        content_type = r.headers.get("Content-Type", "").split(";")[0].strip()
        return data, _media_type(data, content_type, f"{self.where}:{ref}")

    def put_manifest(self, data: bytes, media_type: str, ref: str) -> Digest:
        """Upload a manifest under a tag or its digest; returns the digest the registry confirms."""
        r = self._req("PUT", f"/v2/{self.name}/manifests/{ref}", body=data, headers={"Content-Type": media_type})
        with r:
            if r.status_code not in (200, 201, 202):
                raise self.client.fail(r, f"PUT manifest {ref}")
        digest = of_bytes(data)
        confirmed = r.headers.get("Docker-Content-Digest")
        if confirmed and confirmed.startswith("sha256:") and confirmed != str(digest):
            raise RegistryError(f"{self.where}: stored manifest as {confirmed}, expected {digest}")
        return digest

    # -- blobs -----------------------------------------------------------------------------------
    def has_blob(self, digest: Digest) -> bool:
        """HEAD: is the blob already in this repository?"""
        r = self._req("HEAD", f"/v2/{self.name}/blobs/{digest}")
        r.close()
        if r.status_code == 200:
            return True
        if r.status_code == 404:
            return False
        raise self.client.fail(r, f"HEAD blob {digest}")

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """A stream of the blob's bytes that survives dropped connections (callers verify it);
        unbuffered: read it with large `readinto` buffers."""
        return _Download(self, descriptor)  # type: ignore[return-value]

    def mount(self, digest: Digest, source: str) -> str | None:
        """Cross-repository mount from `source` on the same registry: None when mounted, else the
        Location of the upload session the registry started instead."""
        r = self._req("POST", f"/v2/{self.name}/blobs/uploads/", self.scopes + (pull_scope(source),),
                      params={"mount": str(digest), "from": source})
        r.close()
        if r.status_code == 201:
            return None
        if r.status_code == 202 and r.headers.get("Location"):
            return _location(r)
        raise self.client.fail(r, f"mount {digest} from {source}")

    def upload(self, descriptor: Descriptor, opener: Callable[[], BinaryIO], location: str | None = None,
               on_bytes: Callable[[int], None] = lambda n: None) -> None:
        """Upload a blob (verifying what is read against its descriptor before committing)."""
        for attempt in range(self.client.options.retries + 1):
            location = location or self._start()
            try:
                self._send(descriptor, opener, location, on_bytes)
                return
            except _SessionLost:
                location = None
                time.sleep(_retry_after(None, attempt, self.client.options.backoff))
        raise RegistryError(f"{self.where}: upload of {descriptor.digest} kept failing")

    def _start(self) -> str:
        r = self._req("POST", f"/v2/{self.name}/blobs/uploads/")
        r.close()
        if r.status_code != 202 or not r.headers.get("Location"):
            raise self.client.fail(r, "start upload")
        return _location(r)

    def _send(self, d: Descriptor, opener: Callable[[], BinaryIO], location: str,
              on_bytes: Callable[[int], None]) -> None:
        if d.size <= MONOLITHIC:
            with opener() as source:
                data = source.read(d.size + 1)
            if len(data) != d.size:
                raise DigestMismatchError(f"blob {d.digest}: the source has {len(data)} bytes, {d.size} expected")
            r = self._req("PUT", _with_digest(location, d.digest), body=data,
                          headers={"Content-Type": "application/octet-stream"})
            r.close()
            if r.status_code in (404, 416):
                raise _SessionLost()
            if r.status_code != 201:
                raise self.client.fail(r, f"upload {d.digest}")
            on_bytes(len(data))
            return
        location = self._stream(d, opener, location, on_bytes)
        r = self._req("PUT", _with_digest(location, d.digest), body=b"",
                      headers={"Content-Type": "application/octet-stream"})
        r.close()
        if r.status_code != 201:
            raise self.client.fail(r, f"commit upload {d.digest}")

    def _stream(self, d: Descriptor, opener: Callable[[], BinaryIO], location: str,
                on_bytes: Callable[[int], None]) -> str:
        """The blob in one PATCH (what skopeo sends, and what registries take fastest); after a
        dropped connection, ask the session how much arrived and PATCH the rest from there."""
        offset = 0
        for attempt in range(self.client.options.retries + 1):
            headers = {"Content-Type": "application/octet-stream"}
            if offset:
                headers["Content-Range"] = f"{offset}-{d.size - 1}"
            with _skip(opener(), offset) as source:
                body = _Body(source, d.size - offset, on_bytes)
                try:
                    r = self._req("PATCH", location, body=body, headers=headers, retry=False)
                except RegistryError:
                    r = None
            if r is not None:
                r.close()
                if r.status_code == 202 and body.done:
                    return _location(r, location)
                if r.status_code == 404:
                    raise _SessionLost()
                if r.status_code not in (202, 416, 429, 500, 502, 503, 504):
                    raise self.client.fail(r, f"upload {d.digest}")
            time.sleep(_retry_after(r, attempt, self.client.options.backoff))
            offset, location = self._status(location)
            if offset == d.size:  # all of it arrived; the answer was lost (the PUT's digest check decides)
                return location
            if offset > d.size:
                raise _SessionLost()
        raise RegistryError(f"{self.where}: upload of {d.digest} kept failing")

    def _status(self, location: str) -> tuple[int, str]:
        r = self._req("GET", location)
        r.close()
        if r.status_code != 204:
            raise _SessionLost()
        end = r.headers.get("Range", "0--1").rpartition("-")[2]
        return (int(end) + 1 if end.lstrip("-").isdigit() else 0), _location(r, location)

    # -- referrers -------------------------------------------------------------------------------
    def referrers(self, digest: Digest, artifact_type: str | None = None) -> Index:
        """Manifests whose `subject` is `digest` (referrers API, else the `<alg>-<hex>` fallback tag)."""
        params = {"artifactType": artifact_type} if artifact_type else None
        r = self._req("GET", f"/v2/{self.name}/referrers/{digest}", params=params,
                      headers={"Accept": mediatype.OCI_INDEX}, stream=True)
        with r:
            if r.status_code == 200:
                what = f"{self.where}: referrers of {digest}"
                index = parse_index(read_capped(r, MANIFEST_LIMIT, what, self.client.options.timeout), what)
                if artifact_type and "artifactType" not in r.headers.get("OCI-Filters-Applied", ""):
                    index = Index(tuple(m for m in index.manifests if m.artifact_type == artifact_type))
                return index
            if r.status_code != 404:
                raise self.client.fail(r, f"referrers of {digest}")
        try:
            data, _ = self.manifest(f"{digest.algorithm}-{digest.encoded}")
        except NotFoundError:
            return Index(())
        index = parse_index(data, f"{self.where}: referrers tag of {digest}")
        if artifact_type:
            index = Index(tuple(m for m in index.manifests if m.artifact_type == artifact_type))
        return index


def _media_type(data: bytes, content_type: str, what: str) -> str:
    """The document's own `mediaType`; the Content-Type only for OCI documents that omit it."""
    declared = canonical.loads(data, what)
    if isinstance(declared, dict) and isinstance(declared.get("mediaType"), str):
        return declared["mediaType"]
    if content_type in mediatype.MANIFESTS | mediatype.INDEXES:
        return content_type
    return sniff_media_type(data, what)


class _SessionLost(Exception):
    """The upload session is gone or unusable: start a new one."""


class _Body:
    """A request body streamed from a blob in 1 MiB reads, with a length (so no chunked encoding);
    `done` once the source reached its end, i.e. once the verified stream checked the blob."""

    def __init__(self, source: BinaryIO, length: int, on_bytes: Callable[[int], None]):
        self.source = source
        self.length = length
        self.on_bytes = on_bytes
        self.done = False

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        while chunk := self.source.read(_READ):
            self.on_bytes(len(chunk))
            yield chunk
        self.done = True


def _skip(source: BinaryIO, offset: int) -> BinaryIO:
    """`source` after reading (and so verifying the hash of) its first `offset` bytes."""
    while offset:
        got = source.read(min(offset, _READ))
        if not got:
            break
        offset -= len(got)
    return source


def _location(r: requests.Response, default: str = "") -> str:
    """The upload session URL a response names, resolved against the URL that answered.

    Why: a Location is a URI reference (RFC 9110 10.2.2), so `uploads/abc` or `../x` or
    `//host/path` mean what RFC 3986 resolution against the request's own URL makes of them, as Go's
    client (docker, containerd) resolves them. Gluing them onto the registry's base URL turned
    `uploads/abc` into `http://hostuploads/abc`. Scheme and host checks happen where it is used
    (`Client.url`, `same_origin`). Without a Location, `default` (the session URL already known)."""
    return urljoin(r.url, r.headers.get("Location") or default or "")


def _with_digest(location: str, digest: Digest) -> str:
    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True) + [("digest", str(digest))]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Download(io.RawIOBase):
    """A blob GET that reconnects with `Range: bytes=N-` after a dropped connection."""

    def __init__(self, repo: Repository, descriptor: Descriptor):
        self.repo = repo
        self.d = descriptor
        self.offset = 0
        self.failures = 0
        self.response: requests.Response | None = None
        self._stall = min(BLOB_STALL, repo.client.options.timeout)

    def readable(self) -> bool:
        return True

    def _connect(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        timeout = (self.repo.client.options.timeout, self._stall)  # (connect, each read)
        r = self.repo._req("GET", f"/v2/{self.repo.name}/blobs/{self.d.digest}", headers=headers,
                           stream=True, timeout=timeout)
        if r.status_code == 404:
            r.close()
            raise NotFoundError(f"{self.repo.where}: blob {self.d.digest} unknown to the registry")
        if r.status_code == 206 and self.offset:
            start = r.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
            if start != str(self.offset):
                r.close()
                raise RegistryError(f"{self.repo.where}: blob {self.d.digest}: resumed at the wrong offset")
        elif r.status_code == 200:
            skip = self.offset  # the server ignored Range: drop what we already have
            while skip:
                skipped = r.raw.read(min(skip, _READ))
                if not skipped:
                    break
                skip -= len(skipped)
        else:
            error = self.repo.client.fail(r, f"GET blob {self.d.digest}")
            r.close()
            raise error
        self.response = r
        self._plain = r.headers.get("Content-Encoding", "identity") == "identity" and hasattr(r.raw, "_fp")

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.offset >= self.d.size + 1:
            return 0
        while True:
            try:
                if self.response is None:
                    self._connect()
                assert self.response is not None
                want = memoryview(buffer)[:min(len(buffer), self.d.size + 1 - self.offset, BLOB_WINDOW)]
                n = self._fill(want)
                if not n and self.offset < self.d.size:
                    raise ConnectionError("blob stream ended early")
            except _STREAM_ERRORS as exc:
                if isinstance(exc, (NotFoundError,)) or self.failures >= self.repo.client.options.retries:
                    raise RegistryError(f"{self.repo.where}: blob {self.d.digest}: download failed at byte "
                                        f"{self.offset} of {self.d.size}") from None
                self._drop()
                time.sleep(_retry_after(None, self.failures, self.repo.client.options.backoff))
                self.failures += 1
                continue
            self.offset += n
            return n

    def _fill(self, buffer: memoryview) -> int:
        """Read into `buffer` within the stall time (a read cut short is a stall: TimeoutError)."""
        assert self.response is not None
        raw = self.response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        with contextlib.nullcontext() if sock is None else cut_after(sock, self._stall) as deadline:
            if self._plain:  # no Content-Encoding: read straight into the caller's buffer
                n = raw._fp.readinto(buffer)
            else:
                data = raw.read(len(buffer))
                buffer[:len(data)] = data
                n = len(data)
        if deadline is not None and deadline.fired:
            raise TimeoutError(f"{len(buffer)} bytes took longer than {self._stall:g} s")
        return n

    def _drop(self) -> None:
        if self.response is not None:
            self.response.close()
            self.response = None

    def close(self) -> None:
        self._drop()
        super().close()
