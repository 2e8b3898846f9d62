"""Real tools read and write the store: skopeo, umoci (and skopeo's archives)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (.ci/run installs it)")
    return path


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


def test_skopeo_inspects_and_copies_the_store(busybox_store, tmp_path):
    need("skopeo")
    info = json.loads(run("skopeo", "inspect", f"oci:{busybox_store.path}:busybox").stdout)
    image = busybox_store.resolve("busybox")
    assert info["Digest"] == str(image.descriptor.digest)
    assert info["Layers"] == [str(layer.digest) for layer in image.layers]
    other = tmp_path / "other"
    run("skopeo", "copy", f"oci:{busybox_store.path}:busybox", f"oci:{other}:copied")
    copied = json.loads(run("skopeo", "inspect", f"oci:{other}:copied").stdout)
    assert copied["Digest"] == info["Digest"]  # skopeo keeps our manifest byte for byte


def test_umoci_unpacks_the_store(busybox_store, tmp_path):
    need("umoci")
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{busybox_store.path}:busybox", bundle)
    rootfs = bundle / "rootfs"
    assert (rootfs / "bin/busybox").stat().st_size > 100_000
    assert (rootfs / "bin/sh").is_symlink() and (rootfs / "bin/sh").readlink() == Path("/bin/busybox")
    assert "nobody" in (rootfs / "etc/passwd").read_text()
    assert (rootfs / "tmp").stat().st_mode & 0o1777 == 0o1777
    assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]


def test_layout_written_by_skopeo_is_listed_saved_and_reloaded(busybox_store, tmp_path, imgtool, monkeypatch):
    need("skopeo")
    foreign = tmp_path / "foreign"
    run("skopeo", "copy", f"oci:{busybox_store.path}:busybox", f"oci:{foreign}:v1.0")
    monkeypatch.setenv("IMGTOOL_ROOT", str(foreign))
    listing = imgtool("images", "--format", "json", check=True)
    [row] = [json.loads(line) for line in listing.stdout.splitlines()]  # docker's JSON lines
    assert (row["Repository"], row["Tag"]) == ("v1.0", "latest")
    archive = tmp_path / "foreign.tar"
    imgtool("save", "v1.0", "-o", archive, check=True)
    monkeypatch.setenv("IMGTOOL_ROOT", str(tmp_path / "fresh"))
    assert "Loaded image: v1.0:latest" in imgtool("load", "-i", archive, check=True).stdout
    assert json.loads(imgtool("images", "--format", "json", check=True).stdout)["Digest"] == row["Digest"]


def test_docker_archive_roundtrip_with_skopeo(busybox_store, tmp_path, imgtool):
    need("skopeo")
    ours = tmp_path / "ours.tar"
    imgtool("save", "busybox", "-o", ours, "--format", "docker", check=True)
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{ours}").stdout)
    image = busybox_store.resolve("busybox")
    with tarfile.open(ours) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == ["busybox:latest"]
    diff_ids = [str(d) for d in image.config.diff_ids]
    # a docker-archive carries uncompressed layers: skopeo reports them by diff_id
    assert info["Layers"] == diff_ids
    theirs = tmp_path / "theirs.tar"
    run("skopeo", "copy", f"oci:{busybox_store.path}:busybox", f"docker-archive:{theirs}:made/by-skopeo:1")
    out = imgtool("load", "-i", theirs, check=True).stdout
    assert "Loaded image: made/by-skopeo:1" in out
    loaded = busybox_store.resolve("made/by-skopeo:1")
    assert loaded.config.diff_ids == image.config.diff_ids
    assert loaded.id == image.id  # config kept byte for byte: same image ID


def test_oci_archive_from_skopeo_loads(busybox_store, tmp_path, imgtool):
    need("skopeo")
    theirs = tmp_path / "oci.tar"
    run("skopeo", "copy", f"oci:{busybox_store.path}:busybox", f"oci-archive:{theirs}:bb2")
    assert "Loaded image: bb2:latest" in imgtool("load", "-i", theirs, check=True).stdout
    assert busybox_store.resolve("bb2").descriptor.digest == busybox_store.resolve("busybox").descriptor.digest
