"""Hostile clients on the wire, against a real `registry serve` subprocess: malformed HTTP and
clients that hang up in the middle of a PUT leave one log line each, never an aiohttp traceback;
many connections do not run into the soft open-files limit."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

import requests

from .conftest import free_port, wait_ready

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nHo st: x\r\n\r\n",
    b"PUT /v2/a/b/manifests/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
]


def _send_and_hang_up(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        time.sleep(0.3)  # let the server read it (and answer, or wait for the rest of the body)


def _hang_ups_mid_put(url: str, port: int) -> list[bytes]:
    """A blob PUT, a PATCH and a manifest PUT that each announce 100 kB and send 1 kB."""
    location = requests.post(f"{url}/v2/a/b/blobs/uploads/").headers["Location"]
    head = "HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
    return [
        f"PUT {location}?digest=sha256:{'a' * 64} {head}\r\n".encode() + b"x" * 1000,
        f"PATCH {location} {head}\r\n".encode() + b"x" * 1000,
        f"PUT /v2/a/b/manifests/v1 {head}Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n".encode()
        + b'{"schemaVersion": 2' + b" " * 1000,
    ]


def _log_after(spawned, events) -> list[str]:
    for data in events:
        _send_and_hang_up(spawned.port, data)
    time.sleep(0.5)
    spawned.proc.terminate()
    spawned.proc.wait(10)
    lines = spawned.proc.stderr.read().decode(errors="replace").splitlines()
    return [line for line in lines if "GET /healthz" not in line]  # (wait_ready's)


def test_malformed_requests_and_hang_ups_are_one_access_line_each(spawn, tmp_path):
    registry = spawn(tmp_path / "root")
    events = MALFORMED + _hang_ups_mid_put(registry.url, registry.port)
    lines = _log_after(registry, events)
    assert not [line for line in lines if "Traceback" in line or "Error handling request" in line], "\n".join(lines)
    bad = [line for line in lines if '" 400 ' in line and "UNKNOWN / HTTP" in line]
    closed = [line for line in lines if '" 499 ' in line]
    assert len(bad) == len(MALFORMED), "\n".join(lines)
    assert [line.split('"')[1].split()[0] for line in closed] == ["PUT", "PATCH", "PUT"], "\n".join(lines)
    # one line per event: the start-up line, the POST that opened the upload, and the events
    assert len(lines) == 2 + len(events), "\n".join(lines)


def test_without_an_access_log_each_bad_request_is_one_line_with_its_reason(spawn, tmp_path):
    config = tmp_path / "registry.toml"
    config.write_text("access_log = false\n")
    registry = spawn(tmp_path / "root", "--config", str(config))
    lines = _log_after(registry, MALFORMED)
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    errors = [line for line in lines if line.startswith("Error handling request from 127.0.0.1: ")]
    assert len(lines) <= 1 + len(MALFORMED) and len(errors) == len(lines) - 1, "\n".join(lines)
    assert any("Invalid header token: b'Ho st: x'" in line for line in errors), "\n".join(lines)
    assert any("Invalid character in chunk size" in line for line in errors), "\n".join(lines)


def _low_soft_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_many_connections_do_not_hit_the_soft_open_files_limit(tmp_path):
    """Started with a soft limit of 256 (a hard one far above), the registry raises its soft limit
    to the hard one: 400 idle connections later, it still accepts and answers."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard >= 1024, "this test needs a hard RLIMIT_NOFILE well above 256"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "registry", "serve", "--root", str(tmp_path / "root"),
                             "--addr", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_low_soft_limit)
    idle: list[socket.socket] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        limits = open(f"/proc/{proc.pid}/limits").read()
        [line] = [x for x in limits.splitlines() if x.startswith("Max open files")]
        assert line.split()[3:5] == [str(hard), str(hard)], line
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", port)))
            idle[-1].sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")  # a request that never ends
        r = requests.get(f"http://127.0.0.1:{port}/v2/", timeout=10)
        assert r.status_code == 200
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        proc.wait(10)
    assert "Too many open files" not in proc.stderr.read().decode(errors="replace")
