"""The main-branch conformance suite's data sets, pushed and pulled as its runner does.

The official suite (distribution-spec `conformance/`, v1.1.1 and main) could not be built here: its
Go module dependencies come only from the Go module proxy, which this machine cannot reach, and
main needs Go >= 1.24. So its checks, read from its source (run.go `TestAll` data sets,
`TestPush`/`TestPull`/`TestDelete*`/`TestReferrers`), are repeated here against a registry with every
option on (automatic mount, sparse manifests), on both storage backends: each data set's blobs
and manifests are pushed (children first, by digest, the top one also by tag or `?tag=`), read back
byte for byte by digest and tag with the right Content-Type and Docker-Content-Digest, listed, found
through the referrers API when they have a subject, and deleted with an immediate 404 after.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
import requests

from .conftest import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, ThreadRegistry

EMPTY = "application/vnd.oci.empty.v1+json"
NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"


def _digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class DataSet:
    """Blobs and manifests (in push order) of one scenario."""

    def __init__(self, algorithm: str = "sha256"):
        self.algorithm = algorithm
        self.blobs: dict[str, bytes] = {}
        self.manifests: list[tuple[str, str, bytes]] = []  # (digest, media type, bytes)

    def blob(self, content: bytes, media_type: str = OCI_LAYER, push: bool = True, **extra) -> dict:
        digest = _digest(content, self.algorithm)
        if push:
            self.blobs[digest] = content
        return {"mediaType": media_type, "digest": digest, "size": len(content), **extra}

    def config(self, **extra) -> dict:
        doc = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, **extra}
        return self.blob(json.dumps(doc).encode(), OCI_CONFIG)

    def manifest(self, doc: dict) -> dict:
        data = json.dumps(doc).encode()
        media_type = doc["mediaType"]
        self.manifests.append((_digest(data, self.algorithm), media_type, data))
        return {"mediaType": media_type, "digest": _digest(data, self.algorithm), "size": len(data)}

    def image(self, layers: list[dict] | None = None, config: dict | None = None, **extra) -> dict:
        layers = [self.blob(os.urandom(512)), self.blob(os.urandom(256))] if layers is None else layers
        return self.manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config or self.config(),
                              "layers": layers, **extra})

    def index(self, children: list[dict], **extra) -> dict:
        return self.manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children, **extra})

    def artifact(self, artifact_type: str, **extra) -> dict:
        return self.image([self.blob(os.urandom(100), "application/vnd.example.data")], self.blob(b"{}", EMPTY),
                          artifactType=artifact_type, **extra)


def _platform(descriptor: dict, arch: str) -> dict:
    return {**descriptor, "platform": {"os": "linux", "architecture": arch}}


def _missing(media_type: str = OCI_MANIFEST) -> dict:
    data = os.urandom(1024)
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def _datasets() -> dict[str, tuple[DataSet, dict | None]]:
    """name -> (data, subject descriptor the top manifest refers to, if any)."""
    out: dict[str, tuple[DataSet, dict | None]] = {}
    d = DataSet()
    d.image()
    out["image"] = (d, None)
    d = DataSet()
    d.index([_platform(d.image(), "amd64"), _platform(d.image(), "arm64")])
    out["index"] = (d, None)
    d = DataSet()
    inner = d.index([_platform(d.image(), "amd64")])
    d.index([inner, _platform(d.image(), "arm64")])
    out["index-list"] = (d, None)
    d = DataSet()
    d.image([d.blob(os.urandom(300), push=False), d.blob(os.urandom(200))])
    d.index([_platform(d.image(), "amd64"), _platform(_missing(), "arm64")])
    out["sparse"] = (d, None)
    d = DataSet()
    d.artifact("application/vnd.example.artifact")
    out["artifact"] = (d, None)
    d = DataSet()
    subject = d.image()
    d.artifact("application/vnd.example.sig", subject=subject, annotations={"org.example": "signed"})
    out["subject"] = (d, subject)
    d = DataSet()
    subject = _missing()
    d.artifact("application/vnd.example.sbom", subject=subject)
    out["subject-missing"] = (d, subject)
    d = DataSet()
    d.index([d.artifact("application/vnd.example.a"), d.artifact("application/vnd.example.b")],
            artifactType="application/vnd.example.list")
    out["artifact-list"] = (d, None)
    d = DataSet()
    subject = d.image()
    d.index([d.artifact("application/vnd.example.a")], artifactType="application/vnd.example.list", subject=subject)
    out["subject-list"] = (d, subject)
    d = DataSet()
    inline = b'{"inline": true}'
    d.image([d.blob(inline, data=base64.b64encode(inline).decode())])
    out["data-field"] = (d, None)
    d = DataSet()
    d.image([d.blob(os.urandom(400), NONDIST, push=False, urls=["https://example.com/layer.tar.gz"]),
             d.blob(os.urandom(100))])
    out["nondistributable"] = (d, None)
    d = DataSet()
    d.image([d.blob(os.urandom(64), newUnspecifiedField={"x": [1, 2]})], newUnspecifiedField="kept")
    out["custom-fields"] = (d, None)
    d = DataSet()
    d.image([])
    out["no-layers"] = (d, None)
    d = DataSet()
    d.image([d.blob(b"")])
    out["empty-blob"] = (d, None)
    d = DataSet("sha512")
    d.index([_platform(d.image(), "amd64")])
    out["sha512"] = (d, None)
    return out


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def every_option(request, tmp_path_factory):
    overrides = {"auto_mount": True, "sparse_manifests": True}
    if request.param == "s3":
        moto = request.getfixturevalue("moto")
        overrides.update(moto.settings(moto.bucket()))
    reg = ThreadRegistry(tmp_path_factory.mktemp("every-option"), **overrides)
    yield reg
    reg.stop()


def _push_blob(url: str, repo: str, digest: str, data: bytes, how: int) -> None:
    algorithm = digest.split(":")[0]
    if how == 0:  # single POST
        r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data)
        assert r.status_code in (201, 202), r.text
        if r.status_code == 201:
            return
        location = r.headers["Location"]
    else:
        r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest-algorithm": algorithm})
        assert r.status_code == 202
        location = r.headers["Location"]
        if how == 2 and data:  # chunked
            half = len(data) // 2 or len(data)
            r = requests.patch(url + location, data=data[:half], headers={"Content-Range": f"0-{half - 1}"})
            assert r.status_code == 202, r.text
            location, data = r.headers["Location"], data[half:]
            if data:
                r = requests.patch(url + location, data=data, headers={"Content-Range": f"{half}-{half + len(data) - 1}"})
                assert r.status_code == 202, r.text
                location, data = r.headers["Location"], b""
    r = requests.put(url + location, params={"digest": digest}, data=data)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize("name", list(_datasets()))
def test_data_set_round_trip(every_option, name):
    url, repo = every_option.url, f"conformance/{name}"
    data, subject = _datasets()[name]
    for i, (digest, blob) in enumerate(data.blobs.items()):
        _push_blob(url, repo, digest, blob, i % 3)
        head = requests.head(f"{url}/v2/{repo}/blobs/{digest}")
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(blob)
        assert head.headers["Docker-Content-Digest"] == digest
    top_digest, top_type, top = data.manifests[-1]
    for digest, media_type, body in data.manifests:
        is_top = digest == top_digest
        params = {"tag": "tagged"} if is_top else {}
        r = requests.put(f"{url}/v2/{repo}/manifests/{digest}", params=params, data=body,
                         headers={"Content-Type": media_type})
        assert r.status_code == 201, (name, r.text)
        assert r.headers["Docker-Content-Digest"] == digest and r.headers["Location"]
        if is_top:
            assert r.headers["OCI-Tag"] == "tagged"
            if subject is not None:
                assert r.headers["OCI-Subject"] == subject["digest"]
    if data.algorithm == "sha256":  # tags by reference: canonical digests only (the suite does the same)
        r = requests.put(f"{url}/v2/{repo}/manifests/latest", data=top, headers={"Content-Type": top_type})
        assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == top_digest
    for reference in (top_digest, "tagged"):
        r = requests.get(f"{url}/v2/{repo}/manifests/{reference}", headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        assert r.status_code == 200 and r.content == top and r.headers["Content-Type"] == top_type
        assert r.headers["Docker-Content-Digest"] == top_digest
        assert requests.head(f"{url}/v2/{repo}/manifests/{reference}").headers["Docker-Content-Digest"] == top_digest
    for digest, blob in data.blobs.items():
        assert requests.get(f"{url}/v2/{repo}/blobs/{digest}").content == blob
    assert "tagged" in requests.get(f"{url}/v2/{repo}/tags/list").json()["tags"]
    if subject is not None:
        r = requests.get(f"{url}/v2/{repo}/referrers/{subject['digest']}")
        assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
        assert [m["digest"] for m in r.json()["manifests"]] == [top_digest]
    # deletes take effect at once (the suite's "atomic" checks)
    assert requests.delete(f"{url}/v2/{repo}/manifests/tagged").status_code == 202
    assert requests.head(f"{url}/v2/{repo}/manifests/tagged").status_code == 404
    for digest, _, _ in reversed(data.manifests):
        assert requests.delete(f"{url}/v2/{repo}/manifests/{digest}").status_code == 202
        assert requests.head(f"{url}/v2/{repo}/manifests/{digest}").status_code == 404
    for digest in data.blobs:
        assert requests.delete(f"{url}/v2/{repo}/blobs/{digest}").status_code == 202
        assert requests.head(f"{url}/v2/{repo}/blobs/{digest}").status_code == 404


def test_anonymous_mount_of_a_blob_pushed_elsewhere(every_option):
    url, data = every_option.url, os.urandom(700)
    digest = _digest(data)
    _push_blob(url, "conformance/mount-source", digest, data, 1)
    r = requests.post(f"{url}/v2/conformance/mount-target/blobs/uploads/", params={"mount": digest})
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{url}/v2/conformance/mount-target/blobs/{digest}").content == data


def test_empty_repository_answers(every_option):
    url = every_option.url
    assert requests.get(f"{url}/v2/conformance/never-pushed/tags/list").status_code == 404
    r = requests.get(f"{url}/v2/conformance/never-pushed/referrers/{_digest(b'nothing')}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    assert requests.get(f"{url}/v2/conformance/never-pushed/manifests/{_digest(b'x')}").status_code == 404
    assert requests.put(f"{url}/v2/conformance/bad/manifests/sha256:baddigeststring", data=b"{}",
                        headers={"Content-Type": OCI_MANIFEST}).status_code == 400
