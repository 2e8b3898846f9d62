"""Conformance: pulling (end-1, end-2, end-3), written from distribution-spec v1.1 "Pull".

Test names carry the endpoint id (endN) and, for failures, the expected error code.
"""

from __future__ import annotations

import os

import requests

from .conftest import OCI_MANIFEST, error_codes, push_blob, push_image


def test_end1_api_version_check(registry):
    r = requests.get(f"{registry.url}/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_end2_head_blob_has_length_and_digest(registry, repo):
    data = os.urandom(1234)
    digest = push_blob(registry.url, repo, data)
    r = requests.head(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "1234"
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.content == b""


def test_end2_get_blob_returns_exact_bytes(registry, repo):
    data = os.urandom(300_000)
    digest = push_blob(registry.url, repo, data)
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Docker-Content-Digest"] == digest


def test_end2_get_unknown_blob_BLOB_UNKNOWN(registry, repo):
    push_blob(registry.url, repo, b"something")
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/sha256:{'0' * 64}")
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UNKNOWN"]


def test_end2_head_unknown_blob_404_without_body(registry, repo):
    r = requests.head(f"{registry.url}/v2/{repo}/blobs/sha256:{'1' * 64}")
    assert r.status_code == 404
    assert r.content == b""


def test_end2_invalid_digest_DIGEST_INVALID(registry, repo):
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/sha256:totallywrong")
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


def test_end2_blob_of_other_repository_is_not_served(registry, repo):
    digest = push_blob(registry.url, repo, b"private to one repo")
    r = requests.get(f"{registry.url}/v2/{repo}-other/blobs/{digest}")
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UNKNOWN"]


def _range(registry, repo, spec: str) -> tuple[requests.Response, bytes]:
    data = bytes(range(256)) * 8  # 2048 bytes
    digest = push_blob(registry.url, repo, data)
    return requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}", headers={"Range": spec}), data


def test_end2_range_closed_206(registry, repo):
    r, data = _range(registry, repo, "bytes=500-1499")
    assert r.status_code == 206
    assert r.headers["Content-Length"] == "1000"
    assert r.headers["Content-Range"] == "bytes 500-1499/2048"
    assert r.content == data[500:1500]


def test_end2_range_open_end_206(registry, repo):
    r, data = _range(registry, repo, "bytes=500-")
    assert r.status_code == 206 and r.content == data[500:]


def test_end2_range_suffix_206(registry, repo):
    r, data = _range(registry, repo, "bytes=-500")
    assert r.status_code == 206 and r.content == data[-500:]


def test_end2_range_past_end_truncated_206(registry, repo):
    r, data = _range(registry, repo, "bytes=2000-5000")
    assert r.status_code == 206
    assert r.headers["Content-Range"] == "bytes 2000-2047/2048"
    assert r.content == data[2000:]


def test_end2_large_blob_whole_and_ranges_exact(registry, repo):
    """Blobs over 1 MiB are written from a send thread on the filesystem backend: same bytes, same ranges."""
    data = os.urandom(3 << 20)
    digest = push_blob(registry.url, repo, data)
    url = f"{registry.url}/v2/{repo}/blobs/{digest}"
    assert requests.get(url).content == data
    r = requests.get(url, headers={"Range": "bytes=1048000-2200000"})
    assert r.status_code == 206 and r.content == data[1048000:2200001]
    assert requests.get(url, headers={"Range": "bytes=-1500000"}).content == data[-1500000:]


def test_end2_range_reversed_416(registry, repo):
    r, _ = _range(registry, repo, "bytes=500-0")
    assert r.status_code == 416


def test_end2_range_beyond_size_416(registry, repo):
    r, _ = _range(registry, repo, "bytes=5000-10000")
    assert r.status_code == 416


def test_end3_get_manifest_by_tag_and_digest_same_bytes(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"layer"])
    for ref in ("v1", digest):
        r = requests.get(f"{registry.url}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
        assert r.content == manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest


def test_end3_head_manifest_without_accept(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"layer"])
    r = requests.head(f"{registry.url}/v2/{repo}/manifests/v1", headers={"Accept": ""})
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Content-Length"] == str(len(manifest))


def test_end3_unknown_tag_MANIFEST_UNKNOWN(registry, repo):
    push_image(registry.url, repo, "v1", [b"layer"])
    r = requests.get(f"{registry.url}/v2/{repo}/manifests/nope")
    assert r.status_code == 404
    assert error_codes(r) == ["MANIFEST_UNKNOWN"]


def test_end3_reference_neither_tag_nor_digest_404(registry, repo):
    # the v1.1.1 suite accepts 400 or 404 for sha256:totallywrong; the main-branch suite's
    # `.INVALID_MANIFEST_NAME` wants 404: a reference that cannot name anything names nothing
    for reference in ("sha256:totallywrong", ".INVALID_MANIFEST_NAME"):
        for method in (requests.get, requests.head):
            r = method(f"{registry.url}/v2/{repo}/manifests/{reference}")
            assert r.status_code == 404, (reference, method)
        assert error_codes(requests.get(f"{registry.url}/v2/{repo}/manifests/{reference}")) == ["MANIFEST_UNKNOWN"]


def test_end3_invalid_name_NAME_INVALID(registry):
    r = requests.get(f"{registry.url}/v2/Bad..Name/manifests/latest")
    assert r.status_code == 400
    assert error_codes(r) == ["NAME_INVALID"]


def test_end3_path_traversal_name_rejected(registry):
    r = requests.get(f"{registry.url}/v2/a/%2e%2e/%2e%2e/etc/manifests/latest")
    assert r.status_code in (400, 404)
    assert "errors" in r.json()
