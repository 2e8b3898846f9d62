"""Faults: the server killed mid-pull and restarted, a blob changed on the server's disk, no server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from imgtool.oci.digest import of_bytes
from imgtool.store import Store
from tests.registry.conftest import free_port, push_image

from tests.remote.conftest import one_line_error, tree_state
from tests.remote.proxy import ThrottlingProxy

pytestmark = pytest.mark.interop


def _config_for(layers: list[bytes]) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": [str(of_bytes(x)) for x in layers]}}).encode()


def test_server_down_is_one_line(client_env, store_root, imgtool):
    port = free_port()
    started = time.monotonic()
    result = imgtool("pull", f"127.0.0.1:{port}/nothing/here:1")
    one_line_error(result, rf"cannot reach registry 127\.0\.0\.1:{port}: connection refused")
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_server_killed_mid_pull_resumes_and_verifies(make_server, client_env, store_root, tmp_path):
    server = make_server("imgtool")
    layer = os.urandom(24 << 20)  # uncompressed "tar": the client checks digests, not tar contents here
    manifest, digest = push_image(server.url, "big/image", "v1", [layer], config=_config_for([layer]))
    proxy = ThrottlingProxy(server.port, rate=6 << 20)
    try:
        pull = subprocess.Popen([sys.executable, "-m", "imgtool", "pull", "-q", f"{proxy.host}/big/image:v1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tmp = store_root / "tmp"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for p in tmp.glob("blob-*") if p.stat().st_size > (4 << 20)] if tmp.exists() else []
            if partial:
                break
            assert pull.poll() is None, pull.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the pull never got going")
        server.kill9()
        time.sleep(1.0)
        server.start()
        out, err = pull.communicate(timeout=120)
        assert pull.returncode == 0, err.decode()
    finally:
        proxy.close()
    assert b"Range: bytes=" in proxy.sent_by_clients  # resumed, not restarted from byte 0
    store = Store.open(store_root)
    image = store.resolve(f"{proxy.host}/big/image:v1")
    assert str(image.descriptor.digest) == digest
    assert store.blob_path(of_bytes(layer)).read_bytes() == layer


@pytest.mark.slow
def test_server_killed_mid_push_resumes_from_its_range(make_server, busybox_store, client_env, store_root):
    """imgtool's registry keeps upload sessions across a restart: the push continues where it stopped."""
    from imgtool.store import mutate
    from imgtool.layer import layer as layers

    server = make_server("imgtool")
    blob = os.urandom(24 << 20)
    big = layers.from_bytes(blob, "application/vnd.oci.image.layer.v1.tar")
    with busybox_store.blob_writer() as w:
        w.write(blob)
        w.commit(big.digest)
    config = _config_for([blob])
    mutate.write_image(busybox_store, config, [busybox_store.layer(big.descriptor, big.diff_id)], ["big:v1"])
    proxy = ThrottlingProxy(server.port, rate=6 << 20, uploads=True)
    try:
        push = subprocess.Popen([sys.executable, "-m", "imgtool", "push", "-q", "big:v1", f"{proxy.host}/big/pushed:v1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sessions = list((server.root / "uploads").glob("*/data")) if (server.root / "uploads").exists() else []
            if any(p.stat().st_size > (4 << 20) for p in sessions):
                break
            assert push.poll() is None, push.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the push never got going")
        server.kill9()
        time.sleep(1.0)
        server.start()
        out, err = push.communicate(timeout=120)
        assert push.returncode == 0, err.decode()
    finally:
        proxy.close()
    heads = bytes(proxy.sent_by_clients)
    assert b"Content-Range: " in heads  # the rest went as a PATCH from the server's offset
    assert heads.count(b"POST /v2/big/pushed/blobs/uploads/") == 2  # config + layer: no session restarted
    got = requests.get(f"{server.url}/v2/big/pushed/blobs/{big.digest}")
    assert got.status_code == 200 and got.content == blob


@pytest.mark.parametrize("kind", ["imgtool", "distribution"])
def test_blob_changed_on_server_disk(kind, make_server, busybox_store, client_env, imgtool, tmp_path):
    server = make_server(kind)
    imgtool("push", "-q", "busybox", f"{server.host}/lib/busybox:v1", check=True)
    layer = busybox_store.resolve("busybox").layers[0]
    [blob] = [p for p in server.root.rglob("*") if p.is_file() and p.stat().st_size == layer.size
              and layer.digest.encoded in str(p)]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))

    fresh = tmp_path / "fresh"
    Store.open(fresh)
    before = tree_state(fresh)
    result = imgtool("pull", f"{server.host}/lib/busybox:v1", env={"IMGTOOL_ROOT": str(fresh)})
    one_line_error(result, rf"blob digest mismatch: expected {layer.digest}")
    assert tree_state(fresh) == before  # nothing stored, not even the config
    assert not [p for p in (fresh / "tmp").iterdir()]
