"""The same corpus read from every source: archives, and a registry (layers streamed, nothing stored)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.registry.conftest import free_port

from .conftest import REPO, cli_json, run_cli
from .test_secrets_corpus import _score


@pytest.mark.parametrize("fmt, transport", [("docker", "docker-archive"), ("oci", "oci-archive")])
def test_archives(corpus_store, tmp_path, fmt, transport):
    root, truth, _ = corpus_store
    archive = tmp_path / f"corpus-{fmt}.tar"
    run_cli("save", "--format", fmt, "-o", str(archive), "corpus:1", root=root)
    doc = cli_json("inspect", "--secrets", "--format", "json", f"{transport}:{archive}", root=tmp_path / "empty")
    assert _score(doc["findings"], truth) == ([], [], [])
    assert not list((tmp_path / "empty" / "blobs").rglob("*"))


@pytest.fixture
def registry(tmp_path):
    port = free_port()
    log = open(tmp_path / "registry.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "registry", "serve", "--root", str(tmp_path / "registry"),
                             "--addr", f"127.0.0.1:{port}"], stdout=log, stderr=log,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    deadline = time.monotonic() + 30
    import socket

    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"registry did not start: {(tmp_path / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
    log.close()


def test_registry_reference_is_streamed_not_stored(corpus_store, registry, tmp_path, monkeypatch):
    root, truth, _ = corpus_store
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run_cli("copy", "-q", "corpus:1", f"docker://{registry}/corpus:1", root=root)
    empty = tmp_path / "empty"
    doc = cli_json("inspect", "--secrets", "--format", "json", f"docker://{registry}/corpus:1", root=empty)
    assert _score(doc["findings"], truth) == ([], [], [])
    inspected = cli_json("inspect", f"docker://{registry}/corpus:1", root=empty)[0]
    assert inspected["RepoTags"] == [f"{registry}/corpus:1"]
    assert inspected["RepoDigests"][0].startswith(f"{registry}/corpus@sha256:")
    layers = cli_json("inspect", "--layers", "--format", "json", f"docker://{registry}/corpus:1", root=empty)
    assert layers["layers"][3]["files_deleted"] == 6
    assert not (empty / "blobs").exists() or not list((empty / "blobs").rglob("*"))
    index = empty / "index.json"
    assert not index.exists() or json.loads(index.read_text())["manifests"] == []
