"""Crash safety and memory: kill -9 in the middle of a 100 MB push, a 1 GB push and pull under an
RSS ceiling, and a hostile catalog page size. Real `python -m registry` subprocesses throughout."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest
import requests

from .conftest import blob_files

MB = 1024 * 1024


def _watch_blob(url: str, digest: str, stop: threading.Event, seen: list[int]) -> None:
    """Poll HEAD and GET of a blob, recording every status: a partial blob would show as a 200."""
    while not stop.is_set():
        for method in ("HEAD", "GET"):
            try:
                seen.append(requests.request(method, f"{url}/v2/crash/blobs/{digest}", timeout=5).status_code)
            except requests.ConnectionError:
                pass
        time.sleep(0.02)


@pytest.mark.slow
def test_kill9_during_100MB_push_restart_and_retry(spawn, tmp_path):
    data = os.urandom(100 * MB)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    root = tmp_path / "root"
    reg = spawn(root)
    halfway, killed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def body():
        for i in range(0, len(data), MB):
            yield data[i:i + MB]
            if i == 50 * MB:
                halfway.set()
                killed.wait(60)

    def push() -> None:
        location = reg.url + requests.post(f"{reg.url}/v2/crash/blobs/uploads/").headers["Location"]
        try:
            requests.patch(location, data=body(), timeout=120)
        except requests.ConnectionError as exc:
            errors.append(exc)

    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=_watch_blob, args=(reg.url, digest, stop, seen))
    pusher = threading.Thread(target=push)
    watcher.start()
    pusher.start()
    assert halfway.wait(60)
    deadline = time.monotonic() + 30
    while sum(p.stat().st_size for p in (root / "uploads").glob("*/data")) < 40 * MB:
        assert time.monotonic() < deadline, "server never received the first half"
        time.sleep(0.05)
    reg.kill9()
    killed.set()
    pusher.join(60)
    stop.set()
    watcher.join(10)
    assert errors, "the push should have been cut off"
    assert seen and set(seen) == {404}, "nothing may be served for a blob that was never committed"
    assert blob_files(root) == []

    reg = spawn(root, port=reg.port)
    assert requests.head(f"{reg.url}/v2/crash/blobs/{digest}").status_code == 404
    # the interrupted session survived the crash: its bytes are still there and resumable
    [session] = (root / "uploads").iterdir()
    status = requests.get(f"{reg.url}/v2/crash/blobs/uploads/{session.name}")
    assert status.status_code == 204
    received = int(status.headers["Range"].split("-")[1]) + 1
    assert received >= 40 * MB

    # what clients do: retry the whole push in a new session
    location = reg.url + requests.post(f"{reg.url}/v2/crash/blobs/uploads/").headers["Location"]
    r = requests.patch(location, data=(data[i:i + MB] for i in range(0, len(data), MB)))
    assert r.status_code == 202
    r = requests.put(reg.url + r.headers["Location"], params={"digest": digest})
    assert r.status_code == 201
    got = hashlib.sha256()
    with requests.get(f"{reg.url}/v2/crash/blobs/{digest}", stream=True) as r:
        for chunk in r.iter_content(MB):
            got.update(chunk)
    assert f"sha256:{got.hexdigest()}" == digest

    # and the old session can also be finished where it stopped (resumable across the restart)
    r = requests.patch(f"{reg.url}/v2/crash/blobs/uploads/{session.name}", data=data[received:],
                       headers={"Content-Range": f"{received}-{len(data) - 1}"})
    assert r.status_code == 202
    r = requests.put(reg.url + r.headers["Location"], params={"digest": digest})
    assert r.status_code == 201


@pytest.mark.slow
def test_rss_stays_under_150MB_pushing_and_pulling_1GB(spawn, tmp_path):
    reg = spawn(tmp_path / "root")
    block = os.urandom(MB)
    total = 1024

    def blocks():
        for i in range(total):
            yield i.to_bytes(8, "big") + block[8:]

    expected = hashlib.sha256()
    for chunk in blocks():
        expected.update(chunk)
    digest = f"sha256:{expected.hexdigest()}"

    location = reg.url + requests.post(f"{reg.url}/v2/big/blobs/uploads/").headers["Location"]
    r = requests.patch(location, data=blocks())
    assert r.status_code == 202
    r = requests.put(reg.url + r.headers["Location"], params={"digest": digest})
    assert r.status_code == 201

    got, size = hashlib.sha256(), 0
    with requests.get(f"{reg.url}/v2/big/blobs/{digest}", stream=True) as r:
        assert r.status_code == 200
        for chunk in r.iter_content(MB):
            got.update(chunk)
            size += len(chunk)
    assert size == total * MB and f"sha256:{got.hexdigest()}" == digest

    peak_mib = reg.hwm_kib() / 1024
    assert peak_mib < 150, f"server peak RSS {peak_mib:.0f} MiB"


@pytest.mark.slow
def test_catalog_with_absurd_n_is_capped_and_memory_flat(spawn, tmp_path):
    reg = spawn(tmp_path / "root")
    for i in range(3):
        requests.post(f"{reg.url}/v2/many/r{i}/blobs/uploads/", params={"digest": f"sha256:{hashlib.sha256(b'x').hexdigest()}"}, data=b"x")
    before = reg.rss_kib()
    for _ in range(20):
        r = requests.get(f"{reg.url}/v2/_catalog", params={"n": "1000000000"})
        assert r.status_code == 200
        assert r.json()["repositories"] == ["many/r0", "many/r1", "many/r2"]
    r = requests.get(f"{reg.url}/v2/_catalog", params={"n": "9" * 40})
    assert r.status_code == 400
    assert reg.rss_kib() - before < 10 * 1024
