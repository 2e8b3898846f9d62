"""Hostile clients on raw sockets, session 8's run: each test is one finding that got a 500, a
traceback, a held connection or bytes the client never sent.

Encoded bodies are stored as sent, digests end where their text ends, garbage tokens and token
forms are 4xx, and a body that trickles in one byte at a time is dropped.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import socket
import time

import requests

from .conftest import ALICE, OCI_CONFIG, OCI_MANIFEST, error_codes, push_blob


def exchange(port: int, data: bytes, wait: float = 10.0) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(wait)
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    """One HTTP/1.1 request with `Connection: close` and Content-Length (header names: `_` for `-`)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: x", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_content_encoding_is_stored_as_sent_not_inflated(registry, repo):
    """aiohttp inflated gzip request bodies: 48 kB sent became a 50 MB blob (and the digest of
    bytes the client never sent); a bad gzip stream was a 500 with a traceback."""
    body = gzip.compress(b"\0" * (50 << 20))
    location = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/").headers["Location"]
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    answer = exchange(registry.port, request("PUT", f"{location}?digest={digest}", body, Content_Encoding="gzip"))
    assert status(answer) == 201, answer[:300]
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == body
    location = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/").headers["Location"]
    answer = exchange(registry.port, request("PATCH", location, b"not gzip", Content_Encoding="gzip"))
    assert status(answer) == 202, answer[:300]


def test_a_streamed_blob_response_carries_the_api_version(registry, repo):
    digest = push_blob(registry.url, repo, b"x" * 10)
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_subject_digest_with_a_final_newline_MANIFEST_INVALID(registry, repo):
    """`$` matched before a final newline: "sha256:<63 hex>\\n" was a sha256 digest, stored as a
    folder name with a newline in it, then sent in the OCI-Subject header (500, a traceback)."""
    config = push_blob(registry.url, repo, b"{}")
    subject = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "a" * 63 + "\n", "size": 1}
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "subject": subject,
                       "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2}}).encode()
    r = requests.put(f"{registry.url}/v2/{repo}/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"], r.text
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/sha256:{'a' * 63}%0A")
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]


def test_bearer_token_nested_5000_deep_401_not_500(token_registry):
    reg, _ = token_registry
    header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    r = requests.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {header}.e30.x"})
    assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"], r.text


def test_token_form_garbage_4xx_and_a_slow_form_is_dropped(make_token_registry):
    """POST /token read its form with aiohttp's `request.post()`: a malformed multipart body was a
    500, and a form announced at 1 MiB and never sent held the request (and its buffer) forever."""
    reg, _ = make_token_registry(client_timeout=1.0)
    for content_type, body in (("multipart/form-data; boundary=x", b"--x\r\ngarbage"),
                               ("multipart/form-data", b"abc"), ("application/json", b"{}")):
        r = requests.post(f"{reg.url}/token", data=body, headers={"Content-Type": content_type})
        assert r.status_code == 200 and "token" in r.json(), r.text  # no usable form: an anonymous token
    form = f"grant_type=password&username={ALICE[0]}&password={ALICE[1]}&scope=repository:a/b:pull".encode()
    r = requests.post(f"{reg.url}/token", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["token"]
    started = time.monotonic()
    answer = exchange(reg.port, request("POST", "/token", b"grant_type=pass", Content_Type="application/x-www-form-urlencoded")
                      .replace(b"Content-Length: 15", b"Content-Length: 1000000"))
    assert time.monotonic() - started < 5, answer[:200]
    r = requests.post(f"{reg.url}/token", data=b"a=" + b"b" * (100 << 10),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and error_codes(r) == ["SIZE_INVALID"]


def _trickle(port: int, head: bytes, every: float, seconds: float) -> float | None:
    """Send `head`, then one byte every `every` s; when the server closes (or answers), how long
    it took; None if it still listens after `seconds`."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.settimeout(every)
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                sock.sendall(b" ")
                sock.recv(1)
                return time.monotonic() - started
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - started
    return None


def test_a_body_trickling_one_byte_per_interval_is_dropped(make_registry):
    """One byte every 0.8 s never let a 1 s idle timeout fire: the manifest held its 4 MiB of the
    budget forever (16 such clients: every push 429), a PATCH its session and connection."""
    reg = make_registry(client_timeout=1.0, min_body_rate=1024.0, max_inflight_manifest_bytes=4 << 20)
    location = requests.post(f"{reg.url}/v2/slow/blobs/uploads/").headers["Location"]
    heads = [
        f"PUT /v2/slow/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {OCI_MANIFEST}\r\n"
        f"Content-Length: {4 << 20}\r\n\r\n".encode(),
        f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode(),
    ]
    for head in heads:
        held = _trickle(reg.port, head, every=0.8, seconds=8)
        assert held is not None and held < 4, f"still held after {held} s"
    r = requests.put(f"{reg.url}/v2/slow/manifests/v1", data=b"{}", headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]  # the budget is free again


def test_idle_upload_sessions_hold_no_file_descriptors(make_registry):
    """Each session kept its data file open for its whole life (24 h): opening sessions in a loop
    ran the server out of descriptors (EMFILE), and then it could accept no connection at all."""
    reg = make_registry()
    http = requests.Session()
    before = len(os.listdir("/proc/self/fd"))
    locations = []
    for i in range(300):
        r = http.post(f"{reg.url}/v2/many/blobs/uploads/")
        assert r.status_code == 202
        locations.append(r.headers["Location"])
        if i % 3 == 0:  # some with bytes in them, which used to be written through the open file
            assert http.patch(reg.url + locations[-1], data=b"x" * 100).status_code == 202
    grown = len(os.listdir("/proc/self/fd")) - before
    assert grown < 50, f"300 idle upload sessions hold {grown} descriptors"
    digest = "sha256:" + hashlib.sha256(b"x" * 100).hexdigest()
    assert http.put(reg.url + locations[0], params={"digest": digest}).status_code == 201


def test_lone_surrogate_escape_is_accepted_and_read_as_go_reads_it(registry, repo):
    """A `\\ud800` escape is valid RFC 8259 that distribution accepts (Go decodes U+FFFD): the
    manifest is stored under the digest of its bytes, and its referrer entry says U+FFFD, not a
    lone surrogate no Go client would see."""
    config = push_blob(registry.url, repo, b"{}")
    subject = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "b" * 64, "size": 1}
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "subject": subject,
                       "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                       "annotations": {"note": "\ud800"}}).encode()
    assert b'"\\ud800"' in body
    r = requests.put(f"{registry.url}/v2/{repo}/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(body).hexdigest()
    index = requests.get(f"{registry.url}/v2/{repo}/referrers/{subject['digest']}").json()
    assert [m["annotations"] for m in index["manifests"]] == [{"note": "\ufffd"}]


def test_open_upload_sessions_are_capped_429(make_registry):
    """Nothing bounded the sessions one client could open: each is a folder and two inodes for a
    day (upload_ttl), so POSTs in a loop would fill the disk's inodes. Beyond the cap: 429."""
    reg = make_registry(max_upload_sessions=5)
    locations = [requests.post(f"{reg.url}/v2/cap/blobs/uploads/").headers["Location"] for _ in range(5)]
    r = requests.post(f"{reg.url}/v2/cap/blobs/uploads/")
    assert r.status_code == 429 and error_codes(r) == ["TOOMANYREQUESTS"] and r.headers["Retry-After"]
    assert requests.delete(reg.url + locations[0]).status_code == 204
    digest = push_blob(reg.url, "cap", b"fits again")
    assert requests.head(f"{reg.url}/v2/cap/blobs/{digest}").status_code == 200
