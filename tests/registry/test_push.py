"""Conformance: pushing blobs (end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14).

Monolithic, chunked and streamed uploads, cross-repository mount, upload sessions' binding to
their repository, digest verification. Names carry the endpoint id and expected error code.
"""

from __future__ import annotations

import hashlib
import os

import requests

import pytest

from .conftest import error_codes, push_blob
from imgtool.oci.digest import of_bytes


def _post(registry, repo, **params) -> requests.Response:
    return requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params=params)


def _loc(registry, r: requests.Response) -> str:
    return registry.url + r.headers["Location"]


def _exists(registry, repo, digest) -> bool:
    return requests.head(f"{registry.url}/v2/{repo}/blobs/{digest}").status_code == 200


def test_end4a_post_opens_session_202_with_location(registry, repo):
    r = _post(registry, repo)
    assert r.status_code == 202
    assert r.headers["Location"].startswith(f"/v2/{repo}/blobs/uploads/")
    assert r.headers["Range"] == "0-0"


def test_end4b_single_post_with_digest_201(registry, repo):
    data = os.urandom(5000)
    digest = str(of_bytes(data))
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/{repo}/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == data


def test_end4b_single_post_digest_mismatch_DIGEST_INVALID_nothing_stored(registry, repo):
    data = b"actual bytes"
    wrong = str(of_bytes(b"other bytes"))
    before = registry.blobs()
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params={"digest": wrong}, data=data)
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    assert registry.blobs() == before
    assert not _exists(registry, repo, wrong)
    assert not _exists(registry, repo, of_bytes(data))


def test_end4c_sha512_upload(registry, repo):
    data = os.urandom(4096)
    digest = f"sha512:{hashlib.sha512(data).hexdigest()}"
    r = _post(registry, repo, **{"digest-algorithm": "sha512"})
    assert r.status_code == 202
    r = requests.put(_loc(registry, r), params={"digest": digest}, data=data)
    assert r.status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == data


def test_end4c_unknown_algorithm_400(registry, repo):
    r = _post(registry, repo, **{"digest-algorithm": "md5"})
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


def test_end6_monolithic_put(registry, repo):
    data = os.urandom(10_000)
    digest = push_blob(registry.url, repo, data)
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == data


def test_end6_empty_blob(registry, repo):
    digest = push_blob(registry.url, repo, b"")
    r = requests.head(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200 and r.headers["Content-Length"] == "0"


def test_end6_put_without_digest_DIGEST_INVALID(registry, repo):
    r = requests.put(_loc(registry, _post(registry, repo)), data=b"x")
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


def test_end6_digest_mismatch_DIGEST_INVALID_nothing_stored(registry, repo):
    before = registry.blobs()
    loc = _loc(registry, _post(registry, repo))
    wrong = str(of_bytes(b"expected"))
    r = requests.put(loc, params={"digest": wrong}, data=b"received")
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    assert registry.blobs() == before
    assert requests.get(loc).status_code == 404  # the session is gone too


def test_end5_chunked_upload_in_order(registry, repo):
    data = os.urandom(30_000)
    loc = _loc(registry, _post(registry, repo))
    for start in range(0, len(data), 10_000):
        chunk = data[start:start + 10_000]
        r = requests.patch(loc, data=chunk, headers={
            "Content-Range": f"{start}-{start + len(chunk) - 1}", "Content-Type": "application/octet-stream"})
        assert r.status_code == 202
        assert r.headers["Range"] == f"0-{start + len(chunk) - 1}"
        loc = _loc(registry, r)
    digest = str(of_bytes(data))
    r = requests.put(loc, params={"digest": digest})
    assert r.status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == data


def test_end5_out_of_order_chunk_416(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    r = requests.patch(loc, data=b"abc", headers={"Content-Range": "5-7"})
    assert r.status_code == 416
    assert r.headers["Range"] == "0-0"
    assert "Location" in r.headers


def test_end5_retried_chunk_416(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    assert requests.patch(loc, data=b"abcd", headers={"Content-Range": "0-3"}).status_code == 202
    r = requests.patch(loc, data=b"abcd", headers={"Content-Range": "0-3"})
    assert r.status_code == 416
    assert r.headers["Range"] == "0-3"


def test_end5_content_range_length_mismatch_416(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    r = requests.patch(loc, data=b"abcd", headers={"Content-Range": "0-9"})
    assert r.status_code == 416


def test_end5_final_chunk_in_put(registry, repo):
    data = b"first-part|second-part"
    loc = _loc(registry, _post(registry, repo))
    r = requests.patch(loc, data=data[:11], headers={"Content-Range": "0-10"})
    assert r.status_code == 202
    r = requests.put(_loc(registry, r), params={"digest": str(of_bytes(data))}, data=data[11:],
                     headers={"Content-Range": f"11-{len(data) - 1}"})
    assert r.status_code == 201


def test_end5_final_chunk_out_of_order_416(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    r = requests.put(loc, params={"digest": str(of_bytes(b"xyz"))}, data=b"xyz", headers={"Content-Range": "3-5"})
    assert r.status_code == 416


def test_end5_streamed_patch_without_content_range(registry, repo):
    data = os.urandom(3 * 1024 * 1024 + 17)

    def body():
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    loc = _loc(registry, _post(registry, repo))
    r = requests.patch(loc, data=body(), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202
    assert r.headers["Range"] == f"0-{len(data) - 1}"
    digest = str(of_bytes(data))
    r = requests.put(_loc(registry, r), params={"digest": digest})
    assert r.status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == data


def test_end13_upload_status_204_with_range(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    requests.patch(loc, data=b"0123456789", headers={"Content-Range": "0-9"})
    r = requests.get(loc)
    assert r.status_code == 204
    assert r.headers["Range"] == "0-9"
    assert r.headers["Location"] == loc.removeprefix(registry.url)


def test_end13_unknown_session_BLOB_UPLOAD_UNKNOWN(registry, repo):
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/uploads/{'a' * 32}")
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_end13_malformed_session_id_BLOB_UPLOAD_UNKNOWN(registry, repo):
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/uploads/..%2f..%2fetc")
    assert r.status_code == 404


def test_end13_session_used_from_other_repository_rejected(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    upload_id = loc.rsplit("/", 1)[1]
    other = f"{registry.url}/v2/{repo}-other/blobs/uploads/{upload_id}"
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = requests.request(method, other, params={"digest": str(of_bytes(b"x"))}, data=b"x")
        assert r.status_code == 404, method
        assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert requests.get(loc).headers["Range"] == "0-0"  # untouched


def test_end14_cancel_upload_204_then_unknown(registry, repo):
    loc = _loc(registry, _post(registry, repo))
    requests.patch(loc, data=b"partial")
    assert requests.delete(loc).status_code == 204
    r = requests.get(loc)
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_end11_mount_from_other_repository_201(registry, repo):
    data = os.urandom(2000)
    digest = push_blob(registry.url, repo, data)
    target = repo + "-mounted"
    r = requests.post(f"{registry.url}/v2/{target}/blobs/uploads/", params={"mount": digest, "from": repo})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/{target}/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{registry.url}/v2/{target}/blobs/{digest}").content == data


def test_end11_mount_of_missing_blob_falls_back_to_202(registry, repo):
    digest = str(of_bytes(b"not pushed anywhere"))
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": repo + "-x"})
    assert r.status_code == 202
    assert "/blobs/uploads/" in r.headers["Location"]


def test_end11_mount_without_from_202(registry, repo):
    digest = push_blob(registry.url, repo, b"discoverable?")
    r = requests.post(f"{registry.url}/v2/{repo}-2/blobs/uploads/", params={"mount": digest})
    assert r.status_code == 202


def test_end11_mount_invalid_from_NAME_INVALID(registry, repo):
    digest = push_blob(registry.url, repo, b"abc")
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": "../x"})
    assert r.status_code == 400
    assert error_codes(r) == ["NAME_INVALID"]


def test_existing_blob_is_not_rewritten(registry, repo):
    if registry.config.storage != "filesystem":
        pytest.skip("checks the filesystem backend's hard-linked blob file")
    data = os.urandom(1000)
    digest = push_blob(registry.url, repo, data)
    path = registry.root / "blobs" / "sha256" / digest.split(":")[1]
    inode = path.stat().st_ino
    push_blob(registry.url, repo + "-again", data)
    assert path.stat().st_ino == inode


def test_end11_automatic_content_discovery_mounts_without_from(make_registry):
    reg = make_registry(auto_mount=True)
    digest = push_blob(reg.url, "team/source", b"discoverable")
    r = requests.post(f"{reg.url}/v2/team/target/blobs/uploads/", params={"mount": digest})
    assert r.status_code == 201 and r.headers["Location"] == f"/v2/team/target/blobs/{digest}"
    assert requests.get(f"{reg.url}/v2/team/target/blobs/{digest}").content == b"discoverable"
    missing = str(of_bytes(b"nobody has this"))
    assert requests.post(f"{reg.url}/v2/team/target/blobs/uploads/", params={"mount": missing}).status_code == 202
