"""`imgtool copy` between skopeo's transports, checked by skopeo; multi-platform indexes; referrers."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests

from imgtool.oci.digest import of_bytes
from imgtool.store import Store, host_platform
from tests.registry.conftest import push_blob
from tests.remote.conftest import need, one_line_error

pytestmark = pytest.mark.interop


def skopeo(*args) -> str:
    need("skopeo")
    return subprocess.run(["skopeo", *map(str, args)], check=True, capture_output=True, text=True).stdout


def test_store_to_peer_layout_both_name_forms(busybox_store, client_env, imgtool, tmp_path):
    image = busybox_store.resolve("busybox")
    # the store itself: skopeo finds the short form; imgtool's oci: transport takes both
    assert json.loads(skopeo("inspect", f"oci:{busybox_store.path}:busybox"))["Digest"] == str(image.descriptor.digest)
    layout = tmp_path / "layout"
    for src in (f"oci:{busybox_store.path}:busybox:latest", f"oci:{busybox_store.path}:busybox", "busybox"):
        out = imgtool("copy", "-q", src, f"oci:{layout}:busybox:latest", check=True)
        assert out.stdout.strip() == str(image.descriptor.digest)
    # a peer layout keeps the name verbatim, so skopeo finds `busybox:latest` there
    info = json.loads(skopeo("inspect", f"oci:{layout}:busybox:latest"))
    assert info["Digest"] == str(image.descriptor.digest)
    assert len(json.loads((layout / "index.json").read_text())["manifests"]) == 1  # replaced, not piled up


def test_archives_both_ways(busybox_store, client_env, imgtool, tmp_path):
    image = busybox_store.resolve("busybox")
    oci_tar, docker_tar = tmp_path / "b.oci.tar", tmp_path / "b.docker.tar"
    imgtool("copy", "-q", "busybox", f"oci-archive:{oci_tar}:busybox", check=True)
    assert json.loads(skopeo("inspect", f"oci-archive:{oci_tar}"))["Digest"] == str(image.descriptor.digest)
    imgtool("copy", "-q", "busybox", f"docker-archive:{docker_tar}:made/here:v2", check=True)
    info = json.loads(skopeo("inspect", f"docker-archive:{docker_tar}"))
    assert info["Layers"] == [str(d) for d in image.config.diff_ids]
    imgtool("copy", "-q", f"docker-archive:{docker_tar}", "again:v3", check=True)
    again = busybox_store.resolve("again:v3")
    assert again.config.diff_ids == image.config.diff_ids
    imgtool("copy", "-q", f"oci-archive:{oci_tar}", "again:v4", check=True)
    assert busybox_store.resolve("again:v4").descriptor.digest == image.descriptor.digest
    one_line_error(imgtool("copy", f"oci-archive:{tmp_path}/missing.tar", "x"), r"missing\.tar: no such file")


def test_registry_to_layout_and_back_with_skopeo(server, busybox_store, client_env, imgtool, tmp_path):
    image = busybox_store.resolve("busybox")
    imgtool("copy", "-q", "busybox", f"docker://{server.host}/c/busybox:1", check=True)
    theirs = tmp_path / "theirs"
    skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/c/busybox:1", f"oci:{theirs}:got")
    assert json.loads(skopeo("inspect", f"oci:{theirs}:got"))["Digest"] == str(image.descriptor.digest)
    out = imgtool("copy", "-q", f"docker://{server.host}/c/busybox:1", f"oci:{tmp_path / 'ours'}:got", check=True)
    assert out.stdout.strip() == str(image.descriptor.digest)


# -- multi-platform ----------------------------------------------------------------------------

def _blob(layout: Path, data: bytes) -> dict:
    path = layout / "blobs/sha256" / of_bytes(data).encoded
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": str(of_bytes(data)), "size": len(data)}


def _multi_platform_layout(layout: Path, arches: list[str]) -> None:
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    for arch in arches:
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            body = f"built for {arch}\n".encode()
            info = tarfile.TarInfo("etc/arch")
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
        layer = gzip.compress(tar.getvalue(), mtime=0)
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {
            "type": "layers", "diff_ids": [str(of_bytes(tar.getvalue()))]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(layout, config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(layout, layer)}]}).encode()
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **_blob(layout, manifest),
                        "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", **_blob(layout, index),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))


def test_multi_platform_index_pushed_by_skopeo(server, client_env, imgtool, tmp_path):
    host_arch = host_platform().architecture
    other = "arm64" if host_arch != "arm64" else "amd64"
    layout = tmp_path / "multi"
    _multi_platform_layout(layout, [other, host_arch, "s390x"])
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi", f"docker://{server.host}/m/multi:1")
    ref = f"{server.host}/m/multi:1"

    env = {"IMGTOOL_ROOT": str(tmp_path / "host")}
    imgtool("pull", "-q", ref, env=env, check=True)
    assert Store.open(tmp_path / "host").resolve(ref).config.architecture == host_arch

    env = {"IMGTOOL_ROOT": str(tmp_path / "other")}
    imgtool("pull", "-q", "--platform", f"linux/{other}", ref, env=env, check=True)
    assert Store.open(tmp_path / "other").resolve(ref).config.architecture == other
    one_line_error(imgtool("pull", "--platform", "linux/mips64le", ref, env=env),
                   r"no image for platform linux/mips64le \(the index has: linux/")

    env = {"IMGTOOL_ROOT": str(tmp_path / "all")}
    imgtool("pull", "-q", "--all-platforms", ref, env=env, check=True)
    store = Store.open(tmp_path / "all")
    entry = store.find(ref)
    assert entry.descriptor.media_type == "application/vnd.oci.image.index.v1+json"
    assert len(store.reachable([entry.descriptor])) == 1 + 3 * 3
    # and back out, whole: skopeo sees the same index digest
    imgtool("push", "-q", ref, f"{server.host}/m/again:1", env=env, check=True)
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{server.host}/m/again:1"))
    assert len(raw["manifests"]) == 3


# -- referrers ---------------------------------------------------------------------------------

def _artifact_manifest(subject: dict) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(of_bytes(b"{}")), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(of_bytes(b"{}")), "size": 2}],
        "subject": subject}).encode()


def test_referrers_api_and_fallback_tag(server, busybox_store, client_env, imgtool):
    image = busybox_store.resolve("busybox")
    imgtool("push", "-q", "busybox", f"{server.host}/r/busybox:v1", check=True)
    subject = {"mediaType": image.descriptor.media_type, "digest": str(image.descriptor.digest), "size": image.descriptor.size}
    push_blob(server.url, "r/busybox", b"{}")
    artifact = _artifact_manifest(subject)
    r = requests.put(f"{server.url}/v2/r/busybox/manifests/{of_bytes(artifact)}", data=artifact,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    if "OCI-Subject" not in r.headers:  # distribution 2.8: the client keeps the fallback tag
        fallback = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                               "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                              "digest": str(of_bytes(artifact)), "size": len(artifact),
                                              "artifactType": "application/vnd.example.sbom"}]}).encode()
        tag = f"sha256-{image.descriptor.digest.encoded}"
        r = requests.put(f"{server.url}/v2/r/busybox/manifests/{tag}", data=fallback,
                         headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert r.status_code == 201, r.text
    listed = json.loads(imgtool("referrers", "--format", "json", f"{server.host}/r/busybox:v1", check=True).stdout)
    assert [m["digest"] for m in listed] == [str(of_bytes(artifact))]
    assert listed[0]["artifactType"] == "application/vnd.example.sbom"
    table = imgtool("referrers", f"{server.host}/r/busybox@{image.descriptor.digest}", check=True).stdout
    assert "application/vnd.example.sbom" in table
    none = imgtool("referrers", "--format", "json", "--artifact-type", "application/x-other",
                   f"{server.host}/r/busybox:v1", check=True)
    assert json.loads(none.stdout) == []


def test_docker_schema2_both_ways(server, busybox_store, client_env, imgtool, tmp_path):
    """A Docker schema2 image (skopeo --format v2s2) is pulled and pushed with its types and digest."""
    skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{busybox_store.path}:busybox",
           f"docker://{server.host}/d/busybox:v2s2")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{server.host}/d/busybox:v2s2")
    assert json.loads(raw)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    ref = f"{server.host}/d/busybox:v2s2"
    imgtool("pull", "-q", ref, check=True)
    image = busybox_store.resolve(ref)
    assert image.manifest_bytes == raw.encode()
    assert image.descriptor.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert image.config.diff_ids == busybox_store.resolve("busybox").config.diff_ids
    imgtool("push", "-q", ref, f"{server.host}/d/again:v2s2", check=True)
    assert skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{server.host}/d/again:v2s2") == raw


def test_https_with_cert_dir(make_server, busybox_store, client_env, imgtool, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    imgtool("registry", "gen-cert", "--cert", certs / "ca.crt", "--key", tmp_path / "tls.key", check=True)
    server = make_server("imgtool", "--tls-cert", str(certs / "ca.crt"), "--tls-key", str(tmp_path / "tls.key"))
    ref = f"{server.host}/tls/busybox:1"
    one_line_error(imgtool("push", "busybox", ref), rf"registry {server.host}: TLS failed \(certificate verify failed\)")
    imgtool("push", "-q", "--cert-dir", certs, "busybox", ref, check=True)
    imgtool("pull", "-q", "--tls-verify=false", ref, env={"IMGTOOL_ROOT": str(tmp_path / "other")}, check=True)
    assert Store.open(tmp_path / "other").resolve(ref).descriptor.digest == busybox_store.resolve("busybox").descriptor.digest
