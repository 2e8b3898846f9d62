"""Conformance: manifests, tags, catalog, referrers and deletion (end-3, end-7, end-8, end-9,
end-10, end-12), written from distribution-spec v1.1 "Push", "Content Discovery", "Content Management".
"""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from imgtool.oci.digest import of_bytes

from .conftest import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, error_codes, image_manifest, push_blob, push_image

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def _put(registry, repo, ref, body: bytes, media_type=OCI_MANIFEST, **params) -> requests.Response:
    return requests.put(f"{registry.url}/v2/{repo}/manifests/{ref}", data=body,
                        headers={"Content-Type": media_type}, params=params)


def _blobs(registry, repo, config=b"{}", layers=(b"layer-1",)) -> tuple[bytes, list[bytes]]:
    for b in (config, *layers):
        push_blob(registry.url, repo, b)
    return config, list(layers)


def test_end7_put_by_tag_201_location_and_digest(registry, repo):
    config, layers = _blobs(registry, repo)
    body = image_manifest(config, layers)
    r = _put(registry, repo, "latest", body)
    assert r.status_code == 201
    digest = str(of_bytes(body))
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Location"] == f"/v2/{repo}/manifests/{digest}"


def test_end7_bytes_stored_exactly_with_unknown_fields(registry, repo):
    config, layers = _blobs(registry, repo)
    doc = json.loads(image_manifest(config, layers))
    doc["layers"][0]["newUnspecifiedField"] = {"x": [1, 2]}
    body = ("{\n  " + json.dumps(doc, indent=3)[1:]).encode()  # odd whitespace must survive
    r = _put(registry, repo, "odd", body)
    assert r.status_code == 201
    got = requests.get(f"{registry.url}/v2/{repo}/manifests/odd")
    assert got.content == body


def test_end7_put_by_digest(registry, repo):
    config, layers = _blobs(registry, repo)
    body = image_manifest(config, layers)
    digest = str(of_bytes(body))
    assert _put(registry, repo, digest, body).status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/{digest}").content == body


def test_end7_put_by_wrong_digest_DIGEST_INVALID(registry, repo):
    config, layers = _blobs(registry, repo)
    r = _put(registry, repo, str(of_bytes(b"other")), image_manifest(config, layers))
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


def test_end7b_put_by_digest_with_tag_params_OCI_Tag(registry, repo):
    config, layers = _blobs(registry, repo)
    body = image_manifest(config, layers)
    r = _put(registry, repo, str(of_bytes(body)), body, tag=["a", "b"])
    assert r.status_code == 201
    assert sorted(r.raw.headers.getlist("OCI-Tag")) == ["a", "b"]
    for tag in ("a", "b"):
        assert requests.get(f"{registry.url}/v2/{repo}/manifests/{tag}").content == body


def test_end7_missing_blob_MANIFEST_BLOB_UNKNOWN(registry, repo):
    push_blob(registry.url, repo, b"{}")
    r = _put(registry, repo, "latest", image_manifest(b"{}", [b"never pushed"]))
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/latest").status_code == 404


def test_end7_blob_in_other_repository_MANIFEST_BLOB_UNKNOWN(registry, repo):
    config, layers = _blobs(registry, repo + "-src")
    r = _put(registry, repo, "latest", image_manifest(config, layers))
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


def test_end7_invalid_json_MANIFEST_INVALID(registry, repo):
    r = _put(registry, repo, "latest", b"{not json")
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]


def test_end7_schema_violation_MANIFEST_INVALID(registry, repo):
    r = _put(registry, repo, "latest", json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode())
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]


def test_end7_media_type_content_type_mismatch_MANIFEST_INVALID(registry, repo):
    config, layers = _blobs(registry, repo)
    r = _put(registry, repo, "latest", image_manifest(config, layers), media_type=OCI_INDEX)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]


def test_end7_invalid_tag_TAG_INVALID(registry, repo):
    config, layers = _blobs(registry, repo)
    r = _put(registry, repo, "-bad", image_manifest(config, layers))
    assert r.status_code == 400


def test_end7_too_large_413(registry, repo):
    config, layers = _blobs(registry, repo)
    doc = json.loads(image_manifest(config, layers))
    doc["annotations"] = {f"k{i}": "x" * 10_000 for i in range(500)}  # ~5 MB
    r = _put(registry, repo, "big", json.dumps(doc).encode())
    assert r.status_code == 413
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/big").status_code == 404


def test_end7_large_but_allowed_manifest_3_9MB(registry, repo):
    config, layers = _blobs(registry, repo)
    doc = json.loads(image_manifest(config, layers))
    doc["annotations"] = {f"k{i}": "x" * 10_000 for i in range(390)}
    body = json.dumps(doc).encode()
    assert _put(registry, repo, "large", body).status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/large").content == body


def test_end7_docker_schema2_manifest_and_list(registry, repo):
    config, layers = _blobs(registry, repo)
    doc = {
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": str(of_bytes(config)), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": str(of_bytes(layers[0])), "size": len(layers[0])}],
    }
    body = json.dumps(doc, indent=3).encode()
    r = _put(registry, repo, "docker", body, media_type=DOCKER_MANIFEST)
    assert r.status_code == 201
    got = requests.get(f"{registry.url}/v2/{repo}/manifests/docker")
    assert got.content == body and got.headers["Content-Type"] == DOCKER_MANIFEST
    index = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": r.headers["Docker-Content-Digest"], "size": len(body),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    assert _put(registry, repo, "list", index, media_type=DOCKER_LIST).status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/list").headers["Content-Type"] == DOCKER_LIST


def test_end7_oci_index(registry, repo):
    manifest, digest = push_image(registry.url, repo, "amd64", [b"l"])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}]}).encode()
    r = _put(registry, repo, "multi", index, media_type=OCI_INDEX)
    assert r.status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/multi").headers["Content-Type"] == OCI_INDEX


def test_end7_schema1_rejected_MANIFEST_INVALID(registry, repo):
    r = _put(registry, repo, "old", b'{"schemaVersion": 1}',
             media_type="application/vnd.docker.distribution.manifest.v1+prettyjws")
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]


def _tags(registry, repo, n):
    config, layers = _blobs(registry, repo)
    body = image_manifest(config, layers)
    names = [f"t{i:02d}" for i in range(n)]
    for name in names:
        assert _put(registry, repo, name, body).status_code == 201
    return names


def test_end8a_tag_list_sorted(registry, repo):
    names = _tags(registry, repo, 5)
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list")
    assert r.status_code == 200
    assert r.json() == {"name": repo, "tags": names}


def test_end8a_unknown_repository_NAME_UNKNOWN(registry, repo):
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list")
    assert r.status_code == 404
    assert error_codes(r) == ["NAME_UNKNOWN"]


def test_end8b_n_and_link(registry, repo):
    names = _tags(registry, repo, 5)
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list", params={"n": 2})
    assert r.json()["tags"] == names[:2]
    assert r.headers["Link"] == f'</v2/{repo}/tags/list?n=2&last={names[1]}>; rel="next"'
    r = requests.get(registry.url + r.headers["Link"].split(">")[0][1:])
    assert r.json()["tags"] == names[2:4]


def test_end8b_last_without_n(registry, repo):
    names = _tags(registry, repo, 4)
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list", params={"last": names[1]})
    assert r.json()["tags"] == names[2:]
    assert "Link" not in r.headers


def test_end8b_n_zero_empty_no_link(registry, repo):
    _tags(registry, repo, 3)
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list", params={"n": 0})
    assert r.json()["tags"] == [] and "Link" not in r.headers


def test_end8b_bad_n_PAGINATION_NUMBER_INVALID(registry, repo):
    _tags(registry, repo, 1)
    r = requests.get(f"{registry.url}/v2/{repo}/tags/list", params={"n": "-1"})
    assert r.status_code == 400
    assert error_codes(r) == ["PAGINATION_NUMBER_INVALID"]


def test_catalog_lists_repositories_with_paging(registry, repo):
    for suffix in ("a", "b", "c"):
        push_blob(registry.url, f"{repo}/{suffix}", b"x")
    r = requests.get(f"{registry.url}/v2/_catalog", params={"n": 1000, "last": repo})
    assert r.json()["repositories"][:3] == [f"{repo}/a", f"{repo}/b", f"{repo}/c"]
    r = requests.get(f"{registry.url}/v2/_catalog", params={"n": 1, "last": f"{repo}/a"})
    assert r.json()["repositories"] == [f"{repo}/b"]
    assert r.headers["Link"] == f'</v2/_catalog?n=1&last={repo}/b>; rel="next"'


def test_catalog_huge_n_is_capped(make_registry):
    reg = make_registry(max_catalog_page=3)
    for i in range(5):
        push_blob(reg.url, f"cap/r{i}", b"x")
    r = requests.get(f"{reg.url}/v2/_catalog", params={"n": 1000000000})
    assert r.status_code == 200
    assert r.json()["repositories"] == ["cap/r0", "cap/r1", "cap/r2"]
    assert 'rel="next"' in r.headers["Link"] and "n=3&" in r.headers["Link"]


def test_end9_delete_tag_keeps_manifest(registry, repo):
    manifest, digest = push_image(registry.url, repo, "a", [b"l"])
    assert _put(registry, repo, "b", manifest).status_code == 201
    assert requests.delete(f"{registry.url}/v2/{repo}/manifests/a").status_code == 202
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/a").status_code == 404
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/b").status_code == 200
    assert requests.get(f"{registry.url}/v2/{repo}/manifests/{digest}").status_code == 200


def test_end9_delete_manifest_by_digest_removes_tags(registry, repo):
    _, digest = push_image(registry.url, repo, "a", [b"l"])
    assert requests.delete(f"{registry.url}/v2/{repo}/manifests/{digest}").status_code == 202
    for ref in ("a", digest):
        r = requests.get(f"{registry.url}/v2/{repo}/manifests/{ref}")
        assert r.status_code == 404 and error_codes(r) == ["MANIFEST_UNKNOWN"]
    assert requests.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"] == []


def test_end9_delete_unknown_manifest_MANIFEST_UNKNOWN(registry, repo):
    push_image(registry.url, repo, "a", [b"l"])
    r = requests.delete(f"{registry.url}/v2/{repo}/manifests/sha256:{'2' * 64}")
    assert r.status_code == 404
    assert error_codes(r) == ["MANIFEST_UNKNOWN"]


def test_end10_delete_blob(registry, repo):
    digest = push_blob(registry.url, repo, b"doomed")
    assert requests.delete(f"{registry.url}/v2/{repo}/blobs/{digest}").status_code == 202
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UNKNOWN"]


def test_end10_delete_unknown_blob_BLOB_UNKNOWN(registry, repo):
    r = requests.delete(f"{registry.url}/v2/{repo}/blobs/sha256:{'3' * 64}")
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UNKNOWN"]


def _artifact(registry, repo, subject_digest, subject_size, artifact_type, annotations=None):
    push_blob(registry.url, repo, b"{}")
    doc = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(of_bytes(b"{}")), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(of_bytes(b"{}")), "size": 2}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
    }
    if annotations:
        doc["annotations"] = annotations
    body = json.dumps(doc).encode()
    r = _put(registry, repo, str(of_bytes(body)), body)
    assert r.status_code == 201
    assert r.headers["OCI-Subject"] == subject_digest
    return body


def test_end12a_referrers_listed_with_artifact_type_and_annotations(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"l"])
    sig = _artifact(registry, repo, digest, len(manifest), "application/vnd.example.sig", {"k": "v"})
    r = requests.get(f"{registry.url}/v2/{repo}/referrers/{digest}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    body = r.json()
    assert body["mediaType"] == OCI_INDEX
    assert body["manifests"] == [{
        "mediaType": OCI_MANIFEST, "digest": str(of_bytes(sig)), "size": len(sig),
        "artifactType": "application/vnd.example.sig", "annotations": {"k": "v"},
    }]


def test_end12a_subject_need_not_exist_and_empty_index_when_none(registry, repo):
    missing = f"sha256:{'4' * 64}"
    r = requests.get(f"{registry.url}/v2/{repo}/referrers/{missing}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    _artifact(registry, repo, missing, 123, "application/vnd.example.sbom")
    assert len(requests.get(f"{registry.url}/v2/{repo}/referrers/{missing}").json()["manifests"]) == 1


def test_end12a_bad_digest_400(registry, repo):
    r = requests.get(f"{registry.url}/v2/{repo}/referrers/sha256:nothex")
    assert r.status_code == 400


def test_end12b_artifact_type_filter(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"l"])
    _artifact(registry, repo, digest, len(manifest), "application/vnd.example.sig")
    _artifact(registry, repo, digest, len(manifest), "application/vnd.example.sbom")
    r = requests.get(f"{registry.url}/v2/{repo}/referrers/{digest}", params={"artifactType": "application/vnd.example.sbom"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.sbom"]


def test_end12_referrer_artifact_type_falls_back_to_config_media_type(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"l"])
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    push_blob(registry.url, repo, config)
    body = image_manifest(config, [b"l"], subject={"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)})
    assert _put(registry, repo, "child", body).status_code == 201
    [entry] = requests.get(f"{registry.url}/v2/{repo}/referrers/{digest}").json()["manifests"]
    assert entry["artifactType"] == OCI_CONFIG


def test_end12_deleted_referrer_disappears(registry, repo):
    manifest, digest = push_image(registry.url, repo, "v1", [b"l"])
    sig = _artifact(registry, repo, digest, len(manifest), "application/vnd.example.sig")
    requests.delete(f"{registry.url}/v2/{repo}/manifests/{of_bytes(sig)}")
    assert requests.get(f"{registry.url}/v2/{repo}/referrers/{digest}").json()["manifests"] == []


def test_end12_referrers_paged_with_link(make_registry, repo):
    reg = make_registry(max_referrers_page=2)
    manifest, digest = push_image(reg.url, repo, "v1", [b"l"])
    kinds = ["application/vnd.example.sig"] * 3 + ["application/vnd.example.sbom"] * 2
    pushed = {str(of_bytes(_artifact(reg, repo, digest, len(manifest), kind, {"n": str(i)})))
              for i, kind in enumerate(kinds)}
    seen, url, pages = [], f"{reg.url}/v2/{repo}/referrers/{digest}", 0
    while url:
        r = requests.get(url)
        assert r.status_code == 200 and len(r.json()["manifests"]) <= 2
        seen += [m["digest"] for m in r.json()["manifests"]]
        pages += 1
        url = reg.url + r.links["next"]["url"] if "next" in r.links else None
    assert pages == 3 and sorted(seen) == sorted(pushed)
    # the filter applies before paging and is carried into the next link
    r = requests.get(f"{reg.url}/v2/{repo}/referrers/{digest}", params={"artifactType": kinds[0]})
    assert r.headers["OCI-Filters-Applied"] == "artifactType" and len(r.json()["manifests"]) == 2
    r = requests.get(reg.url + r.links["next"]["url"])
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == [kinds[0]] and "next" not in r.links


def test_end7_empty_layers_accepted_and_pullable(registry, repo):
    # image-spec prose: layers SHOULD have an entry; its schema's minItems is stricter than its text
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    push_blob(registry.url, repo, config)
    body = image_manifest(config, [])
    assert _put(registry, repo, "empty", body).status_code == 201
    r = requests.get(f"{registry.url}/v2/{repo}/manifests/empty")
    assert r.status_code == 200 and r.content == body
    assert requests.head(f"{registry.url}/v2/{repo}/manifests/{of_bytes(body)}").status_code == 200
    assert requests.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"] == ["empty"]
    # still refused: what is truly invalid
    for broken in ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []},
                   {**json.loads(body), "layers": {}}, {**json.loads(body), "layers": [{"digest": "x"}]}):
        r = _put(registry, repo, "broken", json.dumps(broken).encode())
        assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"], broken


def test_validators_built_before_the_registry_listens(tmp_path):
    """A freshly started registry has compiled its schemas already: the first push after start-up
    does not pay for importing jsonschema and crawling the schemas (what a small image's push to a
    new instance mostly was)."""
    probe = (
        "import asyncio, socket, sys\n"
        "from pathlib import Path\n"
        "from registry import config, documents, server\n"
        "async def main():\n"
        "    ready = asyncio.Event()\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
        f"    cfg = config.Config(root=Path({str(tmp_path)!r}), addr=f'127.0.0.1:{{port}}')\n"
        "    task = asyncio.ensure_future(server.serve(cfg, ready))\n"
        "    await ready.wait()\n"
        "    print(documents._manifest_validator.cache_info().currsize, 'jsonschema' in sys.modules)\n"
        "    task.cancel()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1", "True"]
