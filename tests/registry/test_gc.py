"""Online GC: what it keeps, what it removes, and that pushes racing it never lose a manifest."""

from __future__ import annotations

import json
import os
import random
import threading
import time

import requests

from imgtool.oci.digest import of_bytes
from registry import gc
from registry.storage.filesystem import FilesystemStorage

from .conftest import image_manifest, push_blob, push_image

OLD = time.time() - 10 * 86400


def _age(path) -> None:
    os.utime(path, (OLD, OLD))


def _blob_path(root, digest: str):
    return root / "blobs" / digest.replace(":", "/")


def _age_all(root) -> None:
    for p in root.rglob("*"):
        _age(p)


def test_gc_removes_unreferenced_old_blobs_keeps_referenced(make_registry):
    reg = make_registry()
    manifest, digest = push_image(reg.url, "app", "v1", [b"kept layer"])
    orphan = push_blob(reg.url, "app", b"orphan layer")
    _age_all(reg.root)
    report = gc.collect(FilesystemStorage(reg.root), grace=60, upload_ttl=3600)
    assert [str(d) for d in report.deleted] == [orphan]
    assert not _blob_path(reg.root, orphan).exists()
    assert requests.get(f"{reg.url}/v2/app/blobs/{orphan}").status_code == 404
    assert requests.get(f"{reg.url}/v2/app/manifests/v1").content == manifest
    assert requests.get(f"{reg.url}/v2/app/manifests/{digest}").content == manifest
    assert requests.get(f"{reg.url}/v2/app/blobs/{of_bytes(b'kept layer')}").content == b"kept layer"


def test_gc_keeps_blobs_inside_grace_window(make_registry):
    reg = make_registry()
    young = push_blob(reg.url, "app", b"just uploaded, manifest not pushed yet")
    report = gc.collect(FilesystemStorage(reg.root), grace=3600, upload_ttl=3600)
    assert report.deleted == []
    assert _blob_path(reg.root, young).exists()


def test_gc_dry_run_deletes_nothing(make_registry):
    reg = make_registry()
    orphan = push_blob(reg.url, "app", b"orphan")
    _age_all(reg.root)
    report = gc.collect(FilesystemStorage(reg.root), grace=0, upload_ttl=3600, dry_run=True)
    assert [str(d) for d in report.deleted] == [orphan]
    assert _blob_path(reg.root, orphan).exists()


def test_gc_deleted_manifest_frees_its_blobs(make_registry):
    reg = make_registry()
    _, digest = push_image(reg.url, "app", "v1", [b"layer to free"])
    assert requests.delete(f"{reg.url}/v2/app/manifests/{digest}").status_code == 202
    _age_all(reg.root)
    report = gc.collect(FilesystemStorage(reg.root), grace=0, upload_ttl=3600)
    assert len(report.deleted) == 3  # manifest, config, layer


def test_gc_blob_shared_with_other_repository_survives(make_registry):
    reg = make_registry()
    push_image(reg.url, "a", "v1", [b"shared"])
    _, digest_b = push_image(reg.url, "b", "v1", [b"shared"])
    requests.delete(f"{reg.url}/v2/b/manifests/{digest_b}")
    _age_all(reg.root)
    gc.collect(FilesystemStorage(reg.root), grace=0, upload_ttl=3600)
    assert requests.get(f"{reg.url}/v2/a/blobs/{of_bytes(b'shared')}").content == b"shared"
    assert requests.get(f"{reg.url}/v2/b/blobs/{of_bytes(b'shared')}").status_code == 404


def test_gc_expires_stale_upload_sessions(make_registry):
    reg = make_registry()
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/")
    location = reg.url + r.headers["Location"]
    requests.patch(location, data=b"abandoned")
    _age_all(reg.root / "uploads")
    report = gc.collect(FilesystemStorage(reg.root), grace=0, upload_ttl=3600)
    assert report.expired_uploads == 1
    assert list((reg.root / "uploads").iterdir()) == []


def test_gc_cli_dry_run_and_run(make_registry, imgtool):
    reg = make_registry()
    orphan = push_blob(reg.url, "app", b"cli orphan")
    _age_all(reg.root)
    out = imgtool("registry", "gc", "--root", reg.root, "--dry-run", check=True)
    assert f"would remove blob {orphan}" in out.stdout
    assert _blob_path(reg.root, orphan).exists()
    out = imgtool("registry", "gc", "--root", reg.root, check=True)
    assert f"removed blob {orphan}" in out.stdout
    assert not _blob_path(reg.root, orphan).exists()


def test_gc_cli_missing_root_one_line_error(imgtool, tmp_path):
    out = imgtool("registry", "gc", "--root", tmp_path / "nope")
    assert out.returncode != 0
    assert out.stderr.strip().startswith("imgtool: ") and "\n" not in out.stderr.strip()


def test_concurrent_pushers_sharing_layers_while_gc_runs(make_registry):
    """8 pushers share a base layer that GC considers garbage when it starts; GC loops with no grace
    window (the harshest setting). Every manifest that got 201 must stay fully pullable."""
    reg = make_registry()
    base = os.urandom(256 * 1024)
    push_blob(reg.url, "seed", base)  # pushed, never referenced: garbage ...
    garbage = [push_blob(reg.url, "seed", os.urandom(1000)) for _ in range(20)]
    _age_all(reg.root)  # ... and old, so GC wants it gone
    storage = FilesystemStorage(reg.root)
    stop = threading.Event()
    passes: list[gc.GcReport] = []
    accepted: list[tuple[str, str, bytes]] = []
    failures: list[str] = []

    def collector() -> None:
        while not stop.is_set():
            passes.append(gc.collect(storage, grace=0, upload_ttl=3600))

    def pusher(n: int) -> None:
        rng = random.Random(n)
        session = requests.Session()
        for i in range(6):
            name = f"team/p{n}"
            layers = [base, os.urandom(rng.randint(1000, 200_000))]
            for attempt in range(20):
                config = f'{{"pusher":{n},"i":{i},"a":{attempt}}}'.encode()
                for blob in (config, *layers):
                    known = session.head(f"{reg.url}/v2/{name}/blobs/{of_bytes(blob)}").status_code == 200
                    if known and rng.random() < 0.5:
                        continue  # what clients do: skip blobs the registry says it has
                    push_blob(reg.url, name, blob, session)
                body = image_manifest(config, layers)
                r = session.put(f"{reg.url}/v2/{name}/manifests/v{i}", data=body,
                                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
                if r.status_code == 201:
                    accepted.append((name, r.headers["Docker-Content-Digest"], body))
                    break
                if r.json()["errors"][0]["code"] != "MANIFEST_BLOB_UNKNOWN":
                    failures.append(r.text)
                    return
            else:
                failures.append(f"pusher {n} image {i} never accepted")

    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    gc_thread.join()
    gc.collect(storage, grace=0, upload_ttl=3600)  # and once more after everything settled

    assert failures == []
    assert len(accepted) == 48
    assert sum(len(p.deleted) for p in passes) >= len(garbage)
    for name, digest, body in accepted:
        r = requests.get(f"{reg.url}/v2/{name}/manifests/{digest}")
        assert r.status_code == 200 and r.content == body
        doc = json.loads(body)
        for desc in (doc["config"], *doc["layers"]):
            blob = requests.get(f"{reg.url}/v2/{name}/blobs/{desc['digest']}")
            assert blob.status_code == 200, (name, desc["digest"])
            assert str(of_bytes(blob.content)) == desc["digest"]


def _marked_with_old_orphan(reg) -> tuple[bytes, FilesystemStorage, gc.Marks]:
    """A layer pushed to `app` long ago and referenced by nothing, and a GC that has just marked."""
    layer = os.urandom(5000)
    push_blob(reg.url, "app", layer)
    _age_all(reg.root)
    storage = FilesystemStorage(reg.root)
    return layer, storage, gc.mark(storage, grace=0)


def test_blob_reused_by_manifest_between_mark_and_sweep_survives(make_registry):
    """The classic online-GC race: GC marks, a client HEADs an old orphan layer (200), skips its
    upload and pushes a manifest using it, then GC sweeps. The manifest push must keep it alive."""
    reg = make_registry()
    layer, storage, marks = _marked_with_old_orphan(reg)
    config = b'{"reused": true}'
    push_blob(reg.url, "app", config)
    assert requests.head(f"{reg.url}/v2/app/blobs/{of_bytes(layer)}").status_code == 200
    body = image_manifest(config, [layer])
    r = requests.put(f"{reg.url}/v2/app/manifests/v1", data=body,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201
    report = gc.sweep(storage, marks)
    assert report.deleted == [] and report.unlinked == []
    assert requests.get(f"{reg.url}/v2/app/blobs/{of_bytes(layer)}").content == layer


def test_blob_reuploaded_between_mark_and_sweep_survives(make_registry):
    """Re-uploading content that already exists (commit finds the digest) refreshes it for GC."""
    reg = make_registry()
    layer, storage, marks = _marked_with_old_orphan(reg)
    push_blob(reg.url, "other", layer)
    assert gc.sweep(storage, marks).deleted == []
    assert requests.get(f"{reg.url}/v2/other/blobs/{of_bytes(layer)}").content == layer


def test_blob_swept_before_manifest_push_is_refused_not_lost(make_registry):
    """If the sweep wins the race, the manifest push sees the blob gone: refused, never dangling."""
    reg = make_registry()
    layer, storage, marks = _marked_with_old_orphan(reg)
    assert len(gc.sweep(storage, marks).deleted) == 1
    config = b'{"late": true}'
    push_blob(reg.url, "app", config)
    r = requests.put(f"{reg.url}/v2/app/manifests/v1", data=image_manifest(config, [layer]),
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
