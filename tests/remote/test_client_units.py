"""The client's parts against a deliberately unreliable HTTP peer on 127.0.0.1, and its parsers."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading

import pytest

from imgtool.errors import AuthError, ImgtoolError, InvalidReferenceError, RegistryError
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import of_bytes
from imgtool.remote import transports
from imgtool.remote.auth import parse_challenge
from imgtool.remote.credentials import DOCKER_HUB_KEY, Credential, CredentialStore
from imgtool.remote.endpoint import verified
from imgtool.remote.registry import Repository
from imgtool.remote.transport import Client, Options, is_local

BLOB = os.urandom(3 << 20)
DIGEST = of_bytes(BLOB)


class Flaky(http.server.BaseHTTPRequestHandler):
    """A registry that fails the way real networks do: 503 then 429, a body cut short, Range."""

    protocol_version = "HTTP/1.1"
    script: list[str] = []
    seen: list[tuple[str, str, str]] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(("GET", self.path, self.headers.get("Range", "")))
        if self.path == "/v2/":
            return self._send(200, b"{}")
        step = self.script.pop(0) if self.script else "ok"
        if step == "503":
            return self._send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}', {"Retry-After": "0"})
        if step == "429":
            return self._send(429, b"", {"Retry-After": "0"})
        rng = self.headers.get("Range")
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        body = BLOB[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if step == "cut":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def flaky():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Flaky.seen, Flaky.script = [], []
    yield server
    server.shutdown()
    server.server_close()


def _repo(server, **opts) -> Repository:
    client = Client(f"127.0.0.1:{server.server_address[1]}", Options(backoff=0.01, credential=Credential("u", "p"), **opts))
    return Repository(client, "flaky/repo")


def test_retries_then_resumes_with_range(flaky, client_env):
    Flaky.script = ["503", "429", "cut", "cut"]
    repo = _repo(flaky)
    d = Descriptor("application/octet-stream", DIGEST, len(BLOB))
    with verified(repo.open_blob(d), d) as stream:
        assert stream.read() == BLOB
    ranges = [r for m, p, r in Flaky.seen if "/blobs/" in p]
    assert ranges[:3] == ["", "", ""] and ranges[3].startswith("bytes=") and ranges[4].startswith("bytes=")
    assert int(ranges[4].removeprefix("bytes=").rstrip("-")) > int(ranges[3].removeprefix("bytes=").rstrip("-"))


def test_gives_up_with_one_line(flaky, client_env):
    Flaky.script = ["503"] * 20
    repo = _repo(flaky, retries=2)
    d = Descriptor("application/octet-stream", DIGEST, len(BLOB))
    with pytest.raises(RegistryError, match=r"GET blob sha256:[0-9a-f]+: UNAVAILABLE: busy"):
        repo.open_blob(d).read(10)


def test_wrong_bytes_never_pass_the_verified_stream(flaky, client_env):
    repo = _repo(flaky)
    wrong = Descriptor("application/octet-stream", of_bytes(b"something else"), len(BLOB))
    with pytest.raises(ImgtoolError, match="digest mismatch"):
        with verified(repo.open_blob(wrong), wrong) as stream:
            while stream.read(1 << 20):
                pass


def test_challenges():
    c = parse_challenge('Bearer realm="https://auth.example/token",service="reg.example",'
                        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"')
    assert c.scheme == "bearer" and c.params["realm"] == "https://auth.example/token"
    assert c.scopes == ("repository:a/b:pull,push", "repository:c:pull")
    assert parse_challenge('Basic realm="x \\"quoted\\""').params == {"realm": 'x "quoted"'}


def test_docker_config_forms(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        DOCKER_HUB_KEY: {"auth": base64.b64encode(b"hub:pw").decode()},
        "https://registry.example:5000/v1/": {"auth": base64.b64encode(b"me:pw2").decode()},
        "tok.example": {"auth": base64.b64encode(b"user:").decode(), "identitytoken": "refresh-me"},
        "broken.example": {"auth": "%%%"},
    }, "HttpHeaders": {"X-Keep": "me"}}))
    creds = CredentialStore(config)
    assert creds.get("docker.io") == Credential("hub", "pw")
    assert creds.get("registry.example:5000") == Credential("me", "pw2")
    assert creds.get("tok.example").identity_token == "refresh-me"
    assert creds.get("nowhere.example") is None
    with pytest.raises(ImgtoolError, match=r"auths\['broken.example'\].auth is not base64"):
        creds.get("broken.example")
    assert "pw" not in repr(creds.get("docker.io"))
    creds.store("new.example", Credential("n", "secret"))
    doc = json.loads(config.read_text())
    assert doc["HttpHeaders"] == {"X-Keep": "me"} and "new.example" in doc["auths"]
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert creds.erase("new.example") and not creds.erase("new.example")


def test_missing_credential_helper_is_one_line(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"reg.example": "does-not-exist"}}))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AuthError, match="docker-credential-does-not-exist .* is not installed"):
        CredentialStore(config).get("reg.example")


def test_transport_names(store, tmp_path):
    with pytest.raises(InvalidReferenceError):
        transports.destination("oci:", store)
    with pytest.raises(ImgtoolError, match="not an OCI image layout"):
        transports.source(f"oci:{tmp_path}/nothing:x", store)
    with pytest.raises(InvalidReferenceError):
        transports.destination("Not/Valid", store)
    assert is_local("localhost:5000") and is_local("127.0.0.1") and is_local("[::1]:5000")
    assert not is_local("registry.example:5000") and not is_local("10.0.0.1")


class TokenServer(http.server.BaseHTTPRequestHandler):
    """A registry with an OAuth2 token endpoint: password grant by Basic GET, refresh-token grant by POST."""

    protocol_version = "HTTP/1.1"
    requests: list[tuple[str, str, dict]] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        host = self.headers["Host"]
        self.requests.append(("GET", self.path, dict(self.headers)))
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:pw").decode():
                return self._send(401, b"{}")
            return self._send(200, json.dumps({"token": "T-password", "refresh_token": "R-1", "expires_in": 300}).encode())
        if self.headers.get("Authorization") in ("Bearer T-password", "Bearer T-refreshed"):
            return self._send(200, b"{}")
        self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                   {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="test"'})

    def do_POST(self) -> None:  # noqa: N802
        form = dict(x.split("=", 1) for x in self.rfile.read(int(self.headers["Content-Length"])).decode().split("&"))
        self.requests.append(("POST", self.path, form))
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "R-1":
            return self._send(200, json.dumps({"access_token": "T-refreshed", "expires_in": 300}).encode())
        self._send(401, b"{}")


def test_login_keeps_a_refresh_token_and_uses_it(client_env, tmp_path):
    from imgtool import remote

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        TokenServer.requests = []
        remote.login(host, "alice", "pw")
        saved = CredentialStore().get(host)
        assert saved.identity_token == "R-1" and saved.password == ""  # docker's behaviour
        client = Client(host, Options())
        assert client.request("GET", "/v2/").status_code == 200
        [(method, path, form)] = [r for r in TokenServer.requests if r[0] == "POST"]
        assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "R-1"
        with pytest.raises(AuthError, match="wrong username or password"):
            remote.login(host, "alice", "nope")
    finally:
        server.shutdown()
        server.server_close()
