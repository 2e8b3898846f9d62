"""The client against registries whose answers never end or barely move: an error body that goes
on forever, a /v2/ that streams without end, a blob trickled a byte at a time. Each ends within
seconds, in one line, holding a bounded amount of memory."""

from __future__ import annotations

import time

import pytest

from imgtool.errors import RegistryError
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import of_bytes
from imgtool.remote.registry import Repository
from imgtool.remote.transport import Client, Options

ENDLESS = 8 << 30  # announced; the peer writes until the client hangs up (or 20 s pass)


def _endless(status: int):
    def route(h):
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(ENDLESS))
        h.end_headers()
        chunk, until = b'{"errors": [' + b" " * (1 << 20), time.monotonic() + 20
        try:
            while time.monotonic() < until:
                h.wfile.write(chunk)
        except OSError:
            pass
    return route


def test_an_endless_error_body_is_read_capped(peers):
    """requests reads a non-streamed answer whole: a PUT answered 400 with gigabytes of body took
    as long as the peer kept sending, and all of it in memory."""
    registry = peers({"/v2/x/y/manifests/": _endless(400)})
    repo = Repository(Client(registry.host, Options(timeout=5, retries=0)), "x/y")
    started = time.monotonic()
    with pytest.raises(RegistryError, match=r"PUT manifest v1: HTTP 400"):
        repo.put_manifest(b"{}", "application/vnd.oci.image.manifest.v1+json", "v1")
    assert time.monotonic() - started < 5


def test_an_endless_v2_answer_is_read_capped(peers):
    registry = peers({"/v2/": _endless(200)})
    client = Client(registry.host, Options(timeout=5, retries=0))
    started = time.monotonic()
    assert client.base == f"http://{registry.host}"
    assert time.monotonic() - started < 5


def _trickled_blob(blob: bytes):
    """200 with the blob's length: the first 1000 bytes at once, then one byte every 0.2 s."""
    def route(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(blob)))
        h.end_headers()
        h.wfile.write(blob[:1000])
        try:
            for i in range(1000, min(len(blob), 1300)):
                h.wfile.write(blob[i:i + 1])
                h.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass
    return route


def test_a_trickled_blob_download_gives_up_within_its_stall_rule(peers):
    """Each read of a blob waited 60 s for its next byte and the buffer filled recv by recv, so
    a registry sending a byte every 0.2 s kept a pull going for ever."""
    blob = bytes(range(256)) * 4096
    digest = of_bytes(blob)
    registry = peers({f"/v2/x/y/blobs/{digest}": _trickled_blob(blob)})
    repo = Repository(Client(registry.host, Options(timeout=2, retries=1, backoff=0.1)), "x/y")
    started = time.monotonic()
    stream = repo.open_blob(Descriptor("application/octet-stream", digest, len(blob)))
    with pytest.raises(RegistryError, match=r"download failed at byte 0 of 1048576"):
        while stream.read(1 << 20):
            pass
    assert time.monotonic() - started < 10
