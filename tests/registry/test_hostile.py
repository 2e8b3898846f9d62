"""Hostile clients: each test is one finding of a hostile-client run against `registry serve`.

Crashes (500) become spec 4xx errors, CPU-heavy manifests no longer stall other requests, stalled
bodies cannot pin memory, malformed ranges get 416, auth neither leaks user names by timing nor
accepts an expired token every other request, and a full disk is freed the moment an upload fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from registry.auth.htpasswd import Htpasswd, hash_password

from .conftest import ALICE, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, error_codes, push_blob, push_image

def _put_manifest(url: str, repo: str, body: bytes, tag: str = "v1") -> requests.Response:
    return requests.put(f"{url}/v2/{repo}/manifests/{tag}", data=body, headers={"Content-Type": OCI_MANIFEST})


def _manifest_text(layers: str = "[]", extra: str = "") -> bytes:
    config = f'{{"mediaType": "{OCI_CONFIG}", "digest": "sha256:{"a" * 64}", "size": 2}}'
    return f'{{"schemaVersion": 2, "mediaType": "{OCI_MANIFEST}", "config": {config}, "layers": {layers}{extra}}}'.encode()


# --- handler crashes -------------------------------------------------------------------------------

def test_manifest_with_5000_digit_integer_MANIFEST_INVALID(registry, repo):
    layer = f'[{{"mediaType": "{OCI_LAYER}", "digest": "sha256:{"b" * 64}", "size": 1{"0" * 5000}}}]'
    r = _put_manifest(registry.url, repo, _manifest_text(layer))
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]


def test_manifest_nested_960_deep_MANIFEST_INVALID(registry, repo):
    layer = f'[{{"mediaType": "{OCI_LAYER}", "digest": "sha256:{"b" * 64}", "size": 1}}]'
    nested = "[" * 960 + "]" * 960
    for extra in (f', "annotations": {{"a": {nested}}}', f', "x": {nested}'):
        r = _put_manifest(registry.url, repo, _manifest_text(layer, extra))
        assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]
    r = _put_manifest(registry.url, repo, _manifest_text(nested))
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]


def test_unicode_digit_page_size_PAGINATION_NUMBER_INVALID(registry, repo):
    push_image(registry.url, repo, "v1", [b"paged"])
    for path in (f"/v2/{repo}/tags/list", "/v2/_catalog"):
        for n in ("²", "٣", "1²"):
            r = requests.get(f"{registry.url}{path}", params={"n": n})
            assert r.status_code == 400 and error_codes(r) == ["PAGINATION_NUMBER_INVALID"], (path, n)


def _forge(key_file: Path, claims: dict) -> str:
    """A token signed with the registry's own key (as if issued), with arbitrary claims."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    signing_input = f"{b64(json.dumps({'alg': 'ES256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _claims(exp, **extra) -> dict:
    now = int(time.time())
    return {"iss": "imgtool-registry", "aud": "imgtool-registry", "sub": "alice", "iat": now - 600,
            "nbf": now - 600, "exp": exp, "access": [], **extra}


def test_bearer_token_with_string_exp_401(token_registry):
    reg, key = token_registry
    for exp in (str(int(time.time()) + 3600), None, [1], True):
        r = requests.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {_forge(key, _claims(exp))}"})
        assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"], exp


def test_token_leeway_is_the_same_on_every_request(token_registry):
    reg, key = token_registry
    just_expired = _forge(key, _claims(int(time.time()) - 10))  # inside the 30 s clock-skew leeway
    long_expired = _forge(key, _claims(int(time.time()) - 120))
    for token, expected in ((just_expired, 200), (long_expired, 401)):
        seen = [requests.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(4)]
        assert seen == [expected] * 4


# --- CPU-heavy work off the event loop ---------------------------------------------------------------

@pytest.mark.slow
def test_25000_layer_manifest_does_not_stall_other_requests(spawn, tmp_path):
    reg = spawn(tmp_path / "root")
    layers = [{"mediaType": OCI_LAYER, "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(), "size": i}
              for i in range(25000)]
    body = _manifest_text(json.dumps(layers))
    assert 3_500_000 < len(body) <= 4 * 1024 * 1024
    result: dict = {}

    def push() -> None:
        started = time.monotonic()
        result["response"] = _put_manifest(reg.url, "big", body)
        result["seconds"] = time.monotonic() - started

    pusher = threading.Thread(target=push)
    pusher.start()
    time.sleep(0.5)  # the body is in; validation is running
    worst = 0.0
    while pusher.is_alive():
        started = time.monotonic()
        assert requests.get(f"{reg.url}/v2/", timeout=60).status_code == 200
        worst = max(worst, time.monotonic() - started)
        time.sleep(0.05)
    pusher.join()
    # it validated (and refused the unknown blobs), and took long enough for the check to mean something
    assert error_codes(result["response"]) == ["MANIFEST_BLOB_UNKNOWN"]
    assert result["seconds"] > 1.0
    assert worst < 1.0, f"a GET /v2/ waited {worst:.2f} s behind a {result['seconds']:.1f} s manifest validation"


# --- memory and slow clients -------------------------------------------------------------------------

@pytest.mark.slow
def test_stalled_manifest_uploads_bounded_memory_and_dropped(spawn, tmp_path):
    config = tmp_path / "registry.toml"
    config.write_text("client_timeout = 4.0\naccess_log = false\n")
    reg = spawn(tmp_path / "root", "--config", str(config))
    base = reg.rss_kib()
    body = b"{" + b" " * (4 * 1024 * 1024 - 2)  # one byte short: the server waits for the rest
    conns = []
    for _ in range(150):
        s = socket.create_connection(("127.0.0.1", reg.port))
        s.sendall(f"PUT /v2/stall/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {OCI_MANIFEST}\r\n"
                  f"Content-Length: {len(body) + 1}\r\n\r\n".encode())
        s.setblocking(False)
        conns.append([s, 0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(sent < len(body) for _, sent in conns):
        progressed = False
        for entry in conns:
            s, sent = entry
            if sent < len(body):
                try:
                    n = s.send(body[sent:sent + (1 << 20)])
                    entry[1] += n
                    progressed = progressed or n > 0
                except (BlockingIOError, ConnectionError, OSError):
                    pass
        if not progressed:
            time.sleep(0.05)
    time.sleep(1.0)
    grown_mib = (reg.rss_kib() - base) / 1024
    assert grown_mib < 250, f"150 stalled manifest uploads grew RSS by {grown_mib:.0f} MiB"
    # after client_timeout without data, every stalled client is dropped
    closed = 0
    for s, _ in conns:
        s.setblocking(True)
        s.settimeout(30)
        try:
            while s.recv(65536):
                pass
            closed += 1
        except (ConnectionError, OSError):
            closed += 1
        s.close()
    assert closed == len(conns)
    assert requests.get(f"{reg.url}/v2/", timeout=10).status_code == 200


# --- ranges ------------------------------------------------------------------------------------------

def test_stalled_blob_readers_are_dropped_and_others_still_served(make_registry):
    """33 clients GET an 8 MB blob and read nothing: they fill every zero-copy send thread, yet a
    normal pull is served at once (by the streaming path), and after `client_timeout` the stalled
    ones are dropped, cut short, instead of holding a thread each forever."""
    reg = make_registry(client_timeout=1.0)
    blob = os.urandom(8 << 20)
    digest = push_blob(reg.url, "big", blob)
    stalled = []
    for _ in range(33):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
        sock.connect(("127.0.0.1", reg.port))
        sock.sendall(f"GET /v2/big/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        stalled.append(sock)
    time.sleep(0.5)
    started = time.monotonic()
    assert requests.get(f"{reg.url}/v2/big/blobs/{digest}", timeout=30).content == blob
    assert time.monotonic() - started < 10
    time.sleep(2.5)
    cut_short = 0
    for sock in stalled:
        sock.settimeout(5)
        received = 0
        try:
            while data := sock.recv(1 << 20):
                received += len(data)
        except (ConnectionResetError, TimeoutError):
            pass
        sock.close()
        cut_short += received < len(blob)
    assert cut_short >= 32  # all but (at most) the one that streamed


def test_patch_chunked_body_longer_than_content_range_416(registry, repo):
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    location = registry.url + r.headers["Location"]
    # a generator body: sent chunked, so no Content-Length to compare against the range
    r = requests.patch(location, data=iter([b"0123456789", b"abcdefghij"]),
                       headers={"Content-Range": "0-9", "Content-Type": "application/octet-stream"})
    assert r.status_code == 416
    assert requests.get(location).headers["Range"] == "0-0"  # nothing kept
    r = requests.patch(location, data=iter([b"01234", b"56789"]), headers={"Content-Range": "0-9"})
    assert r.status_code == 202 and r.headers["Range"] == "0-9"
    digest = "sha256:" + hashlib.sha256(b"0123456789").hexdigest()
    assert requests.put(location, params={"digest": digest}).status_code == 201
    assert requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}").content == b"0123456789"


def test_patch_chunked_body_shorter_than_content_range_416(registry, repo):
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    location = registry.url + r.headers["Location"]
    r = requests.patch(location, data=iter([b"01234"]), headers={"Content-Range": "0-9"})
    assert r.status_code == 416
    assert requests.get(location).headers["Range"] == "0-0"


def test_range_suffix_of_zero_bytes_416(registry, repo):
    digest = push_blob(registry.url, repo, b"x" * 100)
    for header in ("bytes=-0", "bytes=100-", "bytes=50-10"):
        r = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}", headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["Content-Range"] == "bytes */100"
    r = requests.get(f"{registry.url}/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=-1"})
    assert r.status_code == 206 and r.content == b"x"


# --- auth timing -------------------------------------------------------------------------------------

def test_basic_auth_unknown_user_costs_what_a_known_user_costs(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{hash_password('right', rounds=6)}\nbob:{hash_password('right', rounds=6)}\n")
    users = Htpasswd(path)
    samples: dict[str, list[float]] = {"alice": [], "mallory": []}
    for _ in range(15):  # interleaved, medians: a busy machine slows both alike
        for user in samples:
            started = time.perf_counter()
            assert not users.check(user, "wrong")
            samples[user].append(time.perf_counter() - started)
    known, unknown = (statistics.median(samples[u]) for u in ("alice", "mallory"))
    # a fixed cost-10 dummy made the unknown user 16 times slower than these cost-6 entries
    assert unknown < 4 * known and known < 4 * unknown, f"known user {known * 1e3:.1f} ms, unknown {unknown * 1e3:.1f} ms"


# --- full disk ---------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free block of the disk (unbuffered, so nothing is left to flush on close)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_full_disk_frees_failed_upload_at_once(make_registry, small_disk):
    reg_root = small_disk / "registry"
    reg = make_registry(root=reg_root)
    push_image(reg.url, "app", "v1", [b"fits"])
    before = _used(small_disk)
    big = os.urandom(12 * 1024 * 1024)  # cannot fit on 8 MiB
    # monolithic PUT, then a streamed PATCH: each fails with 507 and leaves nothing behind
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/")
    r = requests.put(reg.url + r.headers["Location"], params={"digest": "sha256:" + hashlib.sha256(big).hexdigest()},
                     data=big)
    assert r.status_code == 507, r.text
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/")
    r = requests.patch(reg.url + r.headers["Location"], data=iter([big[i:i + (1 << 20)] for i in range(0, len(big), 1 << 20)]))
    assert r.status_code == 507, r.text
    leftovers = [p for p in reg_root.rglob("*") if p.is_file() and p.name.startswith((".", "blob-"))]
    assert leftovers == []
    assert list((reg_root / "uploads").iterdir()) == []
    assert _used(small_disk) <= before + 64 * 1024
    assert requests.get(f"{reg.url}/v2/app/manifests/v1").status_code == 200


def test_full_disk_manifest_write_leaves_no_temp_file(make_registry, small_disk):
    reg = make_registry(root=small_disk / "registry")
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    push_blob(reg.url, "app", config)
    before = _used(small_disk)
    filler = _fill(small_disk)
    annotations = {f"k{i}": "v" * 1000 for i in range(200)}
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "annotations": annotations,
           "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)}}
    r = requests.put(f"{reg.url}/v2/app/manifests/v1", data=json.dumps(doc), headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 507, r.text
    filler.unlink()
    leftovers = [p for p in (small_disk / "registry").rglob("*") if p.name.startswith(".") and p.is_file()]
    assert leftovers == []
    assert _used(small_disk) <= before + 16 * 1024


# --- the command line --------------------------------------------------------------------------------

def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "registry", "serve", *args], capture_output=True, text=True, timeout=60)


def test_busy_port_and_bad_address_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for addr in (f"127.0.0.1:{port}", "192.0.2.1:5000", "127.0.0.1:99999"):
            done = _serve("--root", str(tmp_path / "root"), "--addr", addr)
            lines = done.stderr.strip().splitlines()
            assert done.returncode != 0 and len(lines) == 1, (addr, done.stderr)
            assert lines[0].startswith("imgtool: ") and addr in lines[0], lines


def test_registry_main_does_not_import_the_imgtool_cli():
    code = "import sys, registry.__main__; print(sorted(m for m in sys.modules if m.startswith('imgtool.cli')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    top = subprocess.run([sys.executable, "-m", "imgtool", "registry", "--help"], capture_output=True, text=True)
    assert top.returncode == 0 and "serve" in top.stdout


# --- not RFC 8259 JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("body, reason", [
    (b"\xef\xbb\xbf" + _manifest_text(), "starts with a UTF-8 byte-order mark"),
    (_manifest_text().decode().encode("utf-16"), "UTF-16 or UTF-32, not UTF-8"),
    (_manifest_text().decode().encode("utf-16-le"), "UTF-16 or UTF-32, not UTF-8"),
    (_manifest_text(extra=', "annotations": {"a": NaN}'), "NaN is not a JSON number"),
    (_manifest_text(extra=', "x": -Infinity'), "-Infinity is not a JSON number"),
], ids=["bom", "utf16", "utf16le", "nan", "infinity"])
def test_manifest_not_strict_json_MANIFEST_INVALID(registry, repo, body, reason):
    r = _put_manifest(registry.url, repo, body)
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]
    assert reason in r.json()["errors"][0]["message"]
