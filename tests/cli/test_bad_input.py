"""Every user mistake: one line on stderr naming what is wrong, non-zero exit, store unchanged."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest


def tree_state(root: Path) -> dict[str, bytes]:
    """Everything in the store that matters (lock files and the scratch dir aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and "tmp" not in p.relative_to(root).parts}


def assert_clean_failure(result, pattern: str):
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("imgtool: "), result
    assert re.search(pattern, lines[0]), result


def tar_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def oci_archive(tmp_path, busybox_store, imgtool, mutate) -> Path:
    """Save busybox as an OCI archive, then rewrite one member through `mutate(name, data)`."""
    good = tmp_path / "good.tar"
    imgtool("save", "busybox", "-o", good, check=True)
    members = {}
    with tarfile.open(good) as tar:
        for m in tar.getmembers():
            if m.isfile():
                members[m.name] = tar.extractfile(m).read()
    members = mutate(members)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(tar_bytes(members))
    return bad


def manifest_name(members: dict[str, bytes]) -> str:
    index = json.loads(members["index.json"])
    return "blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]


def rehash(members: dict[str, bytes], old: str, data: bytes) -> dict[str, bytes]:
    """Replace blob `old` with `data` under its true digest and point index.json at it."""
    del members[old]
    new = hashlib.sha256(data).hexdigest()
    members[f"blobs/sha256/{new}"] = data
    index = json.loads(members["index.json"])
    index["manifests"][0]["digest"] = f"sha256:{new}"
    index["manifests"][0]["size"] = len(data)
    members["index.json"] = json.dumps(index).encode()
    return members


@pytest.mark.parametrize("case,pattern", [
    ("digest", r"content digest is sha256:"),
    ("json", r"manifest sha256:[0-9a-f]+: invalid JSON"),
    ("schema", r"manifest sha256:[0-9a-f]+: config: "),
    ("mediatype", r"unknown layer media type 'application/x-nope'"),
    ("layer-gzip", r"truncated gzip"),
])
def test_bad_oci_archives(busybox_store, tmp_path, imgtool, case, pattern):
    def mutate(members):
        name = manifest_name(members)
        manifest = json.loads(members[name])
        if case == "digest":
            layer = "blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]
            members[layer] = members[layer][:-1] + bytes([members[layer][-1] ^ 1])
            return members
        if case == "json":
            return rehash(members, name, members[name][:-5])
        if case == "schema":
            manifest["config"] = "not a descriptor"
        if case == "mediatype":
            manifest["layers"][0]["mediaType"] = "application/x-nope"
        if case == "layer-gzip":
            layer_name = "blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]
            truncated = members.pop(layer_name)[:-100]
            digest = hashlib.sha256(truncated).hexdigest()
            members[f"blobs/sha256/{digest}"] = truncated
            manifest["layers"][0].update(digest=f"sha256:{digest}", size=len(truncated))
        return rehash(members, name, json.dumps(manifest).encode())

    bad = oci_archive(tmp_path, busybox_store, imgtool, mutate)
    imgtool("rmi", "busybox", check=True)
    imgtool("prune", check=True)
    before = tree_state(busybox_store.path)
    assert_clean_failure(imgtool("load", "-i", bad), pattern)
    assert tree_state(busybox_store.path) == before


def test_import_truncated_gzip(store, tmp_path, imgtool, busybox_rootfs):
    gz = tmp_path / "rootfs.tar.gz"
    gz.write_bytes(gzip.compress(busybox_rootfs.read_bytes())[:-5000])
    before = tree_state(store.path)
    assert_clean_failure(imgtool("import", gz, "-t", "x"), r"rootfs\.tar\.gz: .*truncated gzip")
    assert tree_state(store.path) == before


@pytest.mark.parametrize("name,pattern", [
    ("../evil", r"evil\.tar: tar entry '\.\./evil' contains '\.\.'"),
    ("/etc/evil", r"evil\.tar: tar entry '/etc/evil' has an absolute path"),
])
def test_import_escaping_entries(store, tmp_path, imgtool, name, pattern):
    bad = tmp_path / "evil.tar"
    bad.write_bytes(tar_bytes({"ok": b"fine", name: b"evil"}))
    before = tree_state(store.path)
    assert_clean_failure(imgtool("import", bad, "-t", "x"), pattern)
    assert tree_state(store.path) == before
    assert not Path("/etc/evil").exists()


def test_load_truncated_archive(busybox_store, tmp_path, imgtool):
    good = tmp_path / "good.tar"
    imgtool("save", "busybox", "-o", good, check=True)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])  # ends inside the layer blob
    before = tree_state(busybox_store.path)
    assert_clean_failure(imgtool("load", "-i", cut), r"cut\.tar: blobs/sha256/[0-9a-f]{64}: corrupt tar: unexpected end")
    assert tree_state(busybox_store.path) == before
    assert not any((busybox_store.path / "tmp").iterdir())  # the scratch layout went too


def test_missing_file(store, imgtool, tmp_path):
    before = tree_state(store.path)
    assert_clean_failure(imgtool("import", tmp_path / "nope.tar", "-t", "x"), r"nope\.tar: no such file")
    assert_clean_failure(imgtool("load", "-i", tmp_path / "nope.tar"), r"nope\.tar: no such file")
    assert tree_state(store.path) == before


def test_bad_names_and_unknown_images(busybox_store, imgtool, tmp_path):
    before = tree_state(busybox_store.path)
    assert_clean_failure(imgtool("tag", "busybox", "Bad/Name"), r"invalid reference")
    assert_clean_failure(imgtool("rmi", "nothere"), r"image 'nothere' not found")
    assert_clean_failure(imgtool("save", "nothere", "-o", tmp_path / "x.tar"), r"not found")
    assert not (tmp_path / "x.tar").exists()
    assert_clean_failure(imgtool("save", "busybox", "-o", tmp_path / "x.tar", "--format", "zip"), r"--format")
    assert_clean_failure(imgtool("import", "/dev/null", "-t", "x", "--compression", "bz2"), r"--compression 'bz2'")
    assert tree_state(busybox_store.path) == before


def test_invalid_index_in_store_is_reported(busybox_store, imgtool):
    (busybox_store.path / "index.json").write_text("{not json")
    assert_clean_failure(imgtool("images"), r"index\.json: invalid JSON")


def test_save_with_a_missing_blob_writes_nothing(busybox_store, imgtool, tmp_path):
    layer = busybox_store.resolve("busybox").layers[0].digest
    busybox_store.blob_path(layer).unlink()
    out = tmp_path / "x.tar"
    assert_clean_failure(imgtool("save", "busybox", "-o", out), rf"blob {layer} of the image is missing")
    assert not out.exists() and not list(tmp_path.glob(".x.tar*"))
