"""push/pull round trips against imgtool's registry and distribution 2.8: same digests, a second push
uploads nothing, a push to another repository mounts."""

from __future__ import annotations

import pytest

from imgtool.store import Store

pytestmark = pytest.mark.interop


def test_push_pull_roundtrip(server, busybox_store, client_env, imgtool, tmp_path):
    image = busybox_store.resolve("busybox")
    dest = f"{server.host}/lib/busybox:v1"
    pushed = imgtool("push", "busybox", dest, check=True)
    assert f"v1: digest: {image.descriptor.digest} size: {image.descriptor.size}" in pushed.stdout
    assert len(server.blob_uploads()) == 1 + len(image.layers)

    fresh = tmp_path / "fresh"
    pulled = imgtool("pull", dest, env={"IMGTOOL_ROOT": str(fresh)}, check=True)
    assert pulled.stdout.strip().splitlines()[-1] == dest
    again = Store.open(fresh).resolve(dest)
    assert again.descriptor.digest == image.descriptor.digest
    assert again.manifest_bytes == image.manifest_bytes
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in image.layers]
    for layer in again.layers:
        assert Store.open(fresh).blob_path(layer.digest).read_bytes() == busybox_store.blob_path(layer.digest).read_bytes()

    before = len(server.blob_uploads())
    second = imgtool("push", "busybox", dest, check=True)
    assert "skipped: already exists" in second.stderr
    assert len(server.blob_uploads()) == before  # nothing uploaded the second time

    imgtool("push", "busybox", f"{server.host}/other/copy:v2", check=True)
    assert len(server.blob_uploads()) == before  # mounted from lib/busybox, not uploaded
    assert len(server.mounts()) == 1 + len(image.layers)


def test_pull_by_digest_and_docker_name_forms(server, busybox_store, client_env, imgtool, tmp_path):
    image = busybox_store.resolve("busybox")
    imgtool("push", "-q", "busybox", f"docker://{server.host}/lib/busybox", check=True)
    by_digest = f"{server.host}/lib/busybox@{image.descriptor.digest}"
    out = imgtool("pull", "-q", by_digest, env={"IMGTOOL_ROOT": str(tmp_path / "s")}, check=True)
    assert out.stdout.strip() == by_digest
    assert [e.descriptor.digest for e in Store.open(tmp_path / "s").images()] == [image.descriptor.digest]


def test_api_for_the_builder(make_server, busybox_store, client_env, tmp_path):
    """`remote.push` / `remote.pull` are the calls `build --push` and FROM use."""
    from imgtool import remote

    server = make_server("imgtool")
    root, where = remote.push(busybox_store, "busybox", f"{server.host}/base/busybox:1")
    assert str(where) == f"{server.host}/base/busybox:1"
    other = Store.open(tmp_path / "other")
    pulled, name = remote.pull(other, f"{server.host}/base/busybox:1")
    assert pulled.digest == root.digest
    assert other.resolve(str(name)).config == busybox_store.resolve("busybox").config
