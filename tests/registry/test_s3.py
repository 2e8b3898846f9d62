"""Several registry processes over one S3 bucket (moto's server): no instance holds state the others
need, so pushes, pulls, upload sessions and GC may each go to any of them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from imgtool.oci.digest import of_bytes

from .conftest import OCI_MANIFEST, error_codes, image_manifest, push_blob


def _config(tmp_path, moto, bucket, name: str, **extra) -> str:
    settings = {**moto.settings(bucket), "access_log": False, **extra}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def pair(tmp_path, moto, spawn):
    """Two `registry serve` processes, A and B, over one fresh bucket."""
    bucket = moto.bucket()
    a = spawn(tmp_path / "a", "--config", _config(tmp_path, moto, bucket, "a"))
    b = spawn(tmp_path / "b", "--config", _config(tmp_path, moto, bucket, "b"))
    return a, b, bucket


def _push(url: str, name: str, tag: str, layers: list[bytes], config: bytes) -> requests.Response:
    for blob in (config, *layers):
        push_blob(url, name, blob)
    return requests.put(f"{url}/v2/{name}/manifests/{tag}", data=image_manifest(config, layers),
                        headers={"Content-Type": OCI_MANIFEST})


def _pull_all(url: str, name: str, reference: str) -> tuple[bytes, dict[str, bytes]]:
    r = requests.get(f"{url}/v2/{name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, (reference, r.text)
    doc = json.loads(r.content)
    blobs = {}
    for descriptor in (doc["config"], *doc["layers"]):
        got = requests.get(f"{url}/v2/{name}/blobs/{descriptor['digest']}")
        assert got.status_code == 200, descriptor
        assert str(of_bytes(got.content)) == descriptor["digest"] == got.headers["Docker-Content-Digest"]
        blobs[descriptor["digest"]] = got.content
    return r.content, blobs


def test_push_through_one_instance_pull_through_the_other(pair):
    a, b, _ = pair
    layers = [os.urandom(300 * 1024), b"small layer", b""]  # one spans several 64 KiB parts
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    r = _push(a.url, "team/app", "v1", layers, config)
    assert r.status_code == 201, r.text
    manifest, blobs = _pull_all(b.url, "team/app", "v1")
    assert manifest == image_manifest(config, layers)
    assert requests.head(f"{b.url}/v2/team/app/manifests/v1").headers["Docker-Content-Digest"] == r.headers[
        "Docker-Content-Digest"]
    assert set(blobs.values()) == {config, *layers}
    assert requests.get(f"{b.url}/v2/team/app/tags/list").json()["tags"] == ["v1"]
    assert "team/app" in requests.get(f"{b.url}/v2/_catalog").json()["repositories"]
    ranged = requests.get(f"{b.url}/v2/team/app/blobs/{of_bytes(layers[0])}", headers={"Range": "bytes=70000-70009"})
    assert ranged.status_code == 206 and ranged.content == layers[0][70000:70010]


def test_chunked_upload_moves_between_instances(pair):
    a, b, _ = pair
    data = os.urandom(350 * 1024)
    chunks = [data[:100_000], data[100_000:170_000], data[170_000:300_000], data[300_000:]]
    r = requests.post(f"{a.url}/v2/moving/blobs/uploads/")
    location, offset = r.headers["Location"], 0
    for i, chunk in enumerate(chunks[:-1]):
        url = (a.url, b.url)[i % 2] + location
        r = requests.patch(url, data=chunk, headers={
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}", "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        offset += len(chunk)
        location = r.headers["Location"]
        # the other instance sees exactly where the session is
        status = requests.get((b.url, a.url)[i % 2] + location)
        assert status.status_code == 204 and status.headers["Range"] == f"0-{offset - 1}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.put(b.url + location, params={"digest": digest}, data=chunks[-1],
                     headers={"Content-Range": f"{offset}-{len(data) - 1}"})
    assert r.status_code == 201, r.text
    for url in (a.url, b.url):
        assert requests.get(f"{url}/v2/moving/blobs/{digest}").content == data
    # and a wrong digest after a move is still caught (the bytes are re-hashed, not trusted)
    r = requests.post(f"{a.url}/v2/moving/blobs/uploads/")
    location = r.headers["Location"]
    assert requests.patch(a.url + location, data=b"abc", headers={"Content-Range": "0-2"}).status_code == 202
    r = requests.put(b.url + location, params={"digest": str(of_bytes(b"abd"))})
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]


@pytest.mark.slow
def test_gc_on_one_instance_during_pushes_through_another_loses_nothing(tmp_path, moto, spawn):
    bucket = moto.bucket()
    b = spawn(tmp_path / "b", "--config", _config(tmp_path, moto, bucket, "b"))
    orphan = os.urandom(2000)
    push_blob(b.url, "garbage", orphan)  # never referenced: GC must take it
    time.sleep(2.5)
    a = spawn(tmp_path / "a", "--config", _config(tmp_path, moto, bucket, "a", gc_interval=0.3, gc_grace=0.0))
    base = os.urandom(100 * 1024)  # shared by every image: reused while GC may be looking at it
    accepted: list[tuple[str, bytes]] = []
    refused = 0

    def pusher() -> None:
        nonlocal refused
        for i in range(12):
            config = json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()
            layers = [base, os.urandom(20 * 1024)]
            for _ in range(5):  # a client re-uploads what a GC collected before its manifest landed
                r = _push(b.url, f"soak/app{i % 3}", f"v{i}", layers, config)
                if r.status_code == 201:
                    accepted.append((f"soak/app{i % 3}", image_manifest(config, layers)))
                    break
                assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"], r.text
                refused += 1
            time.sleep(0.3)

    thread = threading.Thread(target=pusher)
    thread.start()
    thread.join(300)
    assert not thread.is_alive() and len(accepted) == 12
    time.sleep(3.0)  # past the grace window, with A's scheduled passes still running
    subprocess.run([sys.executable, "-m", "registry", "gc", "--config", _config(tmp_path, moto, bucket, "c", gc_grace=0.0)],
                   check=True, capture_output=True, timeout=120)
    for name, manifest in accepted:
        pulled, _ = _pull_all(a.url, name, str(of_bytes(manifest)))
        assert pulled == manifest
    metrics = requests.get(f"{a.url}/metrics").text
    assert 'registry_gc_runs_total{result="ok"}' in metrics
    assert requests.get(f"{a.url}/v2/garbage/blobs/{of_bytes(orphan)}").status_code == 404
    keys = [o["Key"] for o in moto.client().list_objects_v2(Bucket=bucket, Prefix="blobs/").get("Contents", [])]
    assert f"blobs/sha256/{of_bytes(orphan).encoded}" not in keys


def test_idle_sessions_keep_tails_in_memory_only_within_a_budget(moto, tmp_path, monkeypatch):
    """Each idle S3 session kept its tail (up to a part) in memory for its whole life: 100
    sessions left a PATCH short of an 8 MiB part pinned 800 MB. Beyond the budget the oldest tails
    are dropped, and a session whose tail was dropped continues and commits as before."""
    from registry import config
    from registry.storage import open_storage, s3uploads

    monkeypatch.setattr(s3uploads, "RETAINED_TAILS", 200 << 10, raising=False)
    storage = open_storage(config.load(root=tmp_path, **moto.settings(moto.bucket())))  # 64 KiB parts
    sessions = []
    for i in range(20):
        upload = storage.start_upload("tails/x", "", "sha256")
        data = os.urandom(60 << 10)
        storage.append(upload, [data])
        storage.sync(upload)
        sessions.append((upload, data))
    held = sum(len(live.tail) for live in storage.uploads._live.values() if live.tail)
    assert held <= 200 << 10, f"{held} bytes of idle tails held"
    first, data = sessions[0]
    upload = storage.upload(first.id, "tails/x", "")
    more = os.urandom(10 << 10)
    storage.append(upload, [more])
    storage.sync(upload)
    info = storage.commit_upload(upload, of_bytes(data + more))
    assert info.size == len(data + more)
