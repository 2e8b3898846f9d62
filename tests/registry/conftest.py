"""Registry test fixtures: real servers on 127.0.0.1 (in-process thread, or a subprocess) and a
small HTTP client that speaks the distribution API with `requests`.

The in-process server runs `registry.server.serve` on its own event loop in a thread, so the
conformance tests talk real HTTP without paying a process start each; tests that must kill or
measure the server use `spawn_registry` (a real `python -m registry serve` subprocess).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from imgtool.oci.digest import of_bytes

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Poll /healthz until the server answers (or fail with its stderr).

    A server that is up but slower than the 1 s per poll (a loaded machine) is polled again, not
    taken for a failure: requests raises ReadTimeout for it, which is no ConnectionError.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"registry exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            requests.get(f"{url}/healthz", timeout=1, verify=False)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)
    raise RuntimeError(f"registry at {url} did not start")


# --- an S3 stand-in: moto's standalone server, one per test session -------------------------------

@dataclass
class Moto:
    """A `moto_server` subprocess on 127.0.0.1; each test takes its own bucket."""

    proc: subprocess.Popen
    endpoint: str

    def client(self):
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            config=BotoConfig(s3={"addressing_style": "path"}))

    def bucket(self) -> str:
        name = f"registry-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, part_size: int = 64 * 1024) -> dict:
        """Config overrides for the S3 backend on `bucket` (small parts: multipart with small data)."""
        return {"storage": "s3", "s3_bucket": bucket, "s3_endpoint": self.endpoint, "s3_path_style": True,
                "s3_part_size": part_size}


MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def moto():
    """moto's S3 server (PyPI moto[server]) on a free loopback port, parts down to 1 KiB allowed."""
    pytest.importorskip("moto", reason="moto[server] is a test dependency (pyproject test extra)")
    os.environ.update(MOTO_ENV)
    port = free_port()
    env = {**os.environ, "S3_UPLOAD_PART_MIN_SIZE": "1024", "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(64 << 20)}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or up but slow (wait_ready)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    yield Moto(proc, endpoint)
    proc.terminate()
    proc.wait(10)


class ThreadRegistry:
    """`registry.server.serve` on a private event loop in a daemon thread."""

    def __init__(self, root: Path, **overrides):
        from registry import config

        self.port = free_port()
        self.root = root
        self.config = config.load(root=root, addr=f"127.0.0.1:{self.port}", access_log=False, **overrides)
        self.url = f"{'https' if self.config.tls_cert else 'http'}://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("in-process registry did not start")

    def _run(self) -> None:
        from registry import server

        asyncio.set_event_loop(self._loop)
        ready = asyncio.Event()

        async def main() -> None:
            self._task = asyncio.ensure_future(server.serve(self.config, ready))
            await ready.wait()
            self._ready.set()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

        try:
            self._loop.run_until_complete(main())
        finally:
            # the server hashes and writes uploads on the loop's executor: stop those threads too,
            # or every test module leaves workers behind in the test process
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def blobs(self) -> set[str]:
        """Digests of every committed blob, whatever the backend."""
        from registry.storage import open_storage

        return {str(b.digest) for b in open_storage(self.config).all_blobs()}


@pytest.fixture
def make_registry(tmp_path):
    """Factory: `make_registry(**config_overrides)` -> a started ThreadRegistry, stopped after the test."""
    started: list[ThreadRegistry] = []

    def make(**overrides) -> ThreadRegistry:
        root = overrides.pop("root", tmp_path / f"registry-{len(started)}")
        started.append(ThreadRegistry(root, **overrides))
        return started[-1]

    yield make
    for reg in started:
        reg.stop()


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def registry(request, tmp_path_factory):
    """One open (no auth) registry shared by a module's tests, once per storage backend; each test
    uses its own repository."""
    overrides = {}
    if request.param == "s3":
        moto = request.getfixturevalue("moto")
        overrides = moto.settings(moto.bucket())
    reg = ThreadRegistry(tmp_path_factory.mktemp("registry"), **overrides)
    yield reg
    reg.stop()


ALICE = ("alice", "wonderland")


@pytest.fixture
def make_token_registry(make_registry, tmp_path):
    """Factory: a registry with token auth (alice in htpasswd) and config overrides; returns it
    and its token key."""
    from registry import tlscert
    from registry.auth.htpasswd import hash_password

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{ALICE[0]}:{hash_password(ALICE[1], rounds=4)}\n")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    tlscert.generate(cert, key, ["127.0.0.1"])
    return lambda **overrides: (make_registry(htpasswd=htpasswd, token_key=key, **overrides), key)


@pytest.fixture
def token_registry(make_token_registry):
    """A token-auth registry with default limits, and its token key."""
    return make_token_registry()


@pytest.fixture
def repo() -> str:
    """A fresh repository name (nested, like real ones)."""
    return f"test/r{uuid.uuid4().hex[:12]}"


@dataclass
class Spawned:
    """A registry subprocess."""

    proc: subprocess.Popen
    url: str
    root: Path
    port: int

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def hwm_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")


def spawn_registry(root: Path, *args: str, port: int | None = None) -> Spawned:
    """Start `python -m registry serve --root ROOT --addr 127.0.0.1:PORT ARGS` and wait for it."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry", "serve", "--root", str(root), "--addr", f"127.0.0.1:{port}", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc)
    return Spawned(proc, url, root, port)


@pytest.fixture
def spawn(tmp_path):
    """Factory for registry subprocesses, all terminated after the test."""
    procs: list[Spawned] = []

    def start(root: Path | None = None, *args: str, port: int | None = None) -> Spawned:
        procs.append(spawn_registry(root or tmp_path / "root", *args, port=port))
        return procs[-1]

    yield start
    for p in procs:
        if p.proc.poll() is None:
            p.proc.terminate()
            try:
                p.proc.wait(10)
            except subprocess.TimeoutExpired:
                p.proc.kill()


# --- a minimal distribution-API client (what a pusher does, step by step) --------------------------

def push_blob(url: str, name: str, data: bytes, session: requests.Session | None = None, **kw) -> str:
    """Monolithic POST then PUT; returns the digest."""
    http = session or requests
    digest = str(of_bytes(data))
    r = http.post(f"{url}/v2/{name}/blobs/uploads/", **kw)
    assert r.status_code == 202, r.text
    r = http.put(_join(url, r.headers["Location"]), params={"digest": digest}, data=data,
                 headers={"Content-Type": "application/octet-stream"}, **kw)
    assert r.status_code == 201, r.text
    return digest


def _join(url: str, location: str) -> str:
    return location if location.startswith("http") else url + location


def image_manifest(config: bytes, layers: list[bytes], **extra) -> bytes:
    """An OCI image manifest (bytes) for the given config and layer contents."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": str(of_bytes(config)), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": str(of_bytes(x)), "size": len(x)} for x in layers],
        **extra,
    }
    return json.dumps(doc).encode()


def push_image(url: str, name: str, tag: str, layers: list[bytes], session=None, config: bytes | None = None, **kw):
    """Push config, layers and a manifest tagged `tag`; returns (manifest bytes, manifest digest)."""
    config = config or json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "n": uuid.uuid4().hex}).encode()
    for blob in (config, *layers):
        push_blob(url, name, blob, session, **kw)
    manifest = image_manifest(config, layers)
    http = session or requests
    r = http.put(f"{url}/v2/{name}/manifests/{tag}", data=manifest, headers={"Content-Type": OCI_MANIFEST}, **kw)
    assert r.status_code == 201, r.text
    return manifest, r.headers["Docker-Content-Digest"]


def blob_files(root: Path) -> list[Path]:
    """Every committed blob file under a registry root."""
    return [p for p in (root / "blobs").glob("*/*") if p.is_file()]


def error_codes(response: requests.Response) -> list[str]:
    """The spec error codes in a JSON error body."""
    return [e["code"] for e in response.json()["errors"]]


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
