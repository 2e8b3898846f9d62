"""--platform and FROM --platform: the matching image of a multi-platform index, and the platform ARGs.

The engine's image store (docker 20.10) cannot hold an index, so these are hand-written
expectations: what BuildKit does with `--platform` against a multi-platform base.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile

import pytest

from .conftest import config_of


def _image_with(store, which: str, arch: str):
    """A one-layer image holding /which, labelled for linux/`arch` (not named)."""
    from imgtool.oci.config import parse_config
    from imgtool.store import mutate, rootfs

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("which")
        info.size = len(which)
        tar.addfile(info, io.BytesIO(which.encode()))
    buf.seek(0)
    imported = store.load(rootfs.import_rootfs(store, buf, [], "which.tar"))
    config = dataclasses.replace(parse_config(imported.config_bytes), architecture=arch)
    return mutate.write_image(store, config.to_bytes(), imported.layers, names=None)


@pytest.fixture
def multi(busybox_store):
    """`multi:latest`, an index of a linux/amd64 and a linux/arm64 image that differ in /which."""
    from imgtool.oci.descriptor import Platform
    from imgtool.oci.manifest import Index

    entries = tuple(dataclasses.replace(_image_with(busybox_store, arch, arch), platform=Platform(arch, "linux"))
                    for arch in ("amd64", "arm64"))
    busybox_store.add_manifest(Index(entries).to_bytes(), ["multi:latest"])
    return busybox_store


def _files(store, name: str) -> dict[str, bytes]:
    out = {}
    for layer in store.resolve(name).layers:
        with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            out.update({m.name: tar.extractfile(m).read() for m in tar if m.isfile()})
    return out


def test_platform_selects_the_matching_image_and_sets_the_platform_args(build, multi):
    dockerfile = ("FROM multi AS base\nARG TARGETPLATFORM\nARG TARGETARCH\nARG BUILDPLATFORM\n"
                  "LABEL tp=$TARGETPLATFORM arch=$TARGETARCH bp=$BUILDPLATFORM\n"
                  "FROM --platform=$BUILDPLATFORM multi AS native\n"
                  "FROM base\nCOPY --from=native /which /native-which\n")
    r = build({"Dockerfile": dockerfile}, "--platform", "linux/arm64", "-t", "plat:arm")
    assert r.returncode == 0, r
    config = config_of(multi, "plat:arm")
    assert config["architecture"] == "arm64" and config["os"] == "linux"
    assert config["config"]["Labels"] == {"tp": "linux/arm64", "arch": "arm64", "bp": "linux/amd64"}
    assert _files(multi, "plat:arm") == {"which": b"arm64", "native-which": b"amd64"}

    r = build({"Dockerfile": "FROM multi\n"}, "-t", "plat:host")  # no --platform: the host's
    assert r.returncode == 0, r
    assert config_of(multi, "plat:host")["architecture"] == "amd64"


def test_a_platform_the_base_does_not_have_is_one_line(build, multi):
    r = build({"Dockerfile": "FROM multi\n"}, "--platform", "linux/s390x", "-t", "plat:none")
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("imgtool: Dockerfile:1: multi: ") and "linux/s390x" in last and "linux/arm64" in last, r.stderr
    r = build({"Dockerfile": "FROM busybox\n"}, "--platform", "linux/arm64", "-t", "plat:single")
    assert r.returncode != 0
    assert "not the requested platform linux/arm64" in r.stderr.strip().splitlines()[-1], r.stderr
    r = build({"Dockerfile": "FROM busybox\n"}, "--platform", "arm64", "-t", "plat:bad")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].startswith("imgtool: --platform 'arm64': expected os/arch"), r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(multi.index().to_bytes())["manifests"]  # the store is readable after the failures
