"""The client against registries that lie: redirect loops and `file://` redirects, upload Locations
on other hosts fishing for credentials, token endpoints that send too much or inject headers,
manifests cut short. Each ends in one line naming what was refused, never a traceback or a hang."""

from __future__ import annotations

import base64
import io
import time

import pytest

from imgtool.errors import RegistryError
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import of_bytes
from imgtool.remote.credentials import Credential
from imgtool.remote.registry import Repository
from imgtool.remote.transport import MAX_REDIRECTS, Client, Options

from tests.remote.conftest import one_line_error

BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()


def _basic_only(route):
    """`route` behind HTTP Basic auth, as distribution with htpasswd does."""
    def guarded(h):
        if h.headers.get("Authorization") != BASIC:
            return h.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}',
                          {"WWW-Authenticate": 'Basic realm="test"'})
        route(h)
    return guarded


def test_redirect_loop_is_capped_with_one_line(peers, client_env, store_root, imgtool):
    peer = peers({"/v2/loop/": lambda h: h.send(302, headers={"Location": h.path})})
    started = time.monotonic()
    result = imgtool("pull", f"{peer.host}/loop/image:v1")
    one_line_error(result, rf"/v2/loop/image/manifests/v1: more than {MAX_REDIRECTS} redirects")
    hops = [p for _, p, _, _ in peer.seen if p.startswith("/v2/loop/")]
    assert len(hops) == MAX_REDIRECTS + 1  # the request and its 10 redirects, not requests' 30
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/"])
def test_redirect_to_another_scheme_is_refused(target, peers, client_env, store_root, imgtool):
    peer = peers({"/v2/odd/": lambda h: h.send(307, headers={"Location": target})})
    result = imgtool("pull", f"{peer.host}/odd/image:v1")
    one_line_error(result, rf"/v2/odd/image/manifests/v1: redirect to '{target}' refused: only http\(s\) is followed")


def test_upload_location_with_another_scheme_is_refused(peers, client_env):
    peer = peers({"/v2/": _basic_only(lambda h: h.send(200, b"{}")),
                  "/v2/team/app/blobs/uploads/": _basic_only(
                      lambda h: h.send(202, headers={"Location": "file:///tmp/upload"}))})
    repo = Repository(Client(peer.host, Options(credential=Credential("alice", "pw"))), "team/app", push=True)
    blob = b"layer bytes"
    with pytest.raises(RegistryError, match=r"Location 'file:///tmp/upload\?digest=sha256%3A[0-9a-f]+' refused: only http\(s\)"):
        repo.upload(Descriptor("application/octet-stream", of_bytes(blob), len(blob)), lambda: io.BytesIO(blob))


def test_credentials_never_leave_the_registry_host(peers, client_env):
    """An absolute upload Location (or a blob redirect) to another host gets no Authorization: the
    registry's Basic credential (or its bearer token) is for the registry only."""
    elsewhere = peers({"/upload/": lambda h: h.send(201, headers={"Location": "/blob"}),
                       "/blob/": lambda h: h.send(200, b"layer bytes")})
    registry = peers({
        "/v2/": _basic_only(lambda h: h.send(200, b"{}")),
        "/v2/team/app/blobs/uploads/": _basic_only(
            lambda h: h.send(202, headers={"Location": f"http://{elsewhere.host}/upload/session-1"})),
        "/v2/team/app/blobs/": _basic_only(
            lambda h: h.send(307, headers={"Location": f"http://{elsewhere.host}/blob/x"})),
    })
    repo = Repository(Client(registry.host, Options(credential=Credential("alice", "pw"))), "team/app", push=True)
    blob = b"layer bytes"
    d = Descriptor("application/octet-stream", of_bytes(blob), len(blob))
    repo.upload(d, lambda: io.BytesIO(blob))
    assert repo.open_blob(d).read(100) == blob
    assert [m for m, p, _, _ in elsewhere.seen] == ["PUT", "GET"]
    assert elsewhere.authorizations() == []
    assert BASIC in registry.authorizations()  # the registry itself did get the credential


def _bearer_registry(peers, token_route):
    """A registry whose every request needs a Bearer token from its own `/token`, answered by `token_route`."""
    def guarded(h):
        if h.headers.get("Authorization") != "Bearer good":
            realm = f"http://{h.headers['Host']}/token"
            return h.send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="{realm}",service="test"'})
        h.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}')
    return peers({"/v2/": guarded, "/token": token_route})


def _endless_token(h):
    h.send_response(200)
    h.send_header("Content-Length", str(64 << 20))
    h.end_headers()
    h.wfile.write(b'{"token": "' + b"A" * (2 << 20))  # and then it would go on for 62 MiB more


def test_token_answer_is_capped(peers, client_env, store_root, imgtool):
    peer = _bearer_registry(peers, _endless_token)
    result = imgtool("pull", f"{peer.host}/any/image:v1")
    one_line_error(result, rf"token server http://{peer.host}/token: body larger than 1048576 bytes")


def test_token_with_cr_lf_is_refused(peers, client_env, store_root, imgtool):
    peer = _bearer_registry(peers, lambda h: h.send(200, b'{"token": "good\\r\\nX-Injected: yes"}'))
    result = imgtool("pull", f"{peer.host}/any/image:v1")
    one_line_error(result, r"token server .*/token answered a token with spaces or control characters")
    assert not [h for _, _, h, _ in peer.seen if "X-Injected" in h]


def _short_manifest(hang_up: bool):
    def route(h):
        h.send(200, b'{"schemaVersion":2', {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, length=5000)
        if hang_up:
            h.close_connection = True
        else:
            time.sleep(30)  # keep the connection open, say nothing more
    return route


@pytest.mark.parametrize("hang_up", [True, False], ids=["closed", "stalled"])
def test_manifest_shorter_than_its_content_length(hang_up, peers, client_env, store_root, imgtool):
    peer = peers({"/v2/short/": _short_manifest(hang_up)})
    started = time.monotonic()
    result = imgtool("pull", f"{peer.host}/short/image:v1")
    reason = "cut short" if hang_up else "stalled for 10 s"
    one_line_error(result, rf"{peer.host}/short/image:v1: manifest: body {reason} after 18 of 5000 bytes")
    assert time.monotonic() - started < 25  # not the 60 s read timeout (and then a traceback)


def test_manifest_trickled_byte_by_byte_meets_a_deadline(peers, client_env):
    def trickle(h):
        h.send(200, b"{", {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, length=5000)
        for _ in range(30):
            time.sleep(0.5)
            h.wfile.write(b" ")
            h.wfile.flush()

    peer = peers({"/v2/slow/": trickle})
    repo = Repository(Client(peer.host, Options(timeout=3)), "slow/image")
    started = time.monotonic()
    with pytest.raises(RegistryError, match=r"slow/image:v1: manifest: body still incomplete after 3 s"):
        repo.manifest("v1")
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("body, reason", [
    (b'\xef\xbb\xbf{"schemaVersion": 2}', "starts with a UTF-8 byte-order mark"),
    ('{"schemaVersion": 2}'.encode("utf-16"), "UTF-16 or UTF-32, not UTF-8"),
    (b'{"schemaVersion": 2, "annotations": {"a": NaN}}', "NaN is not a JSON number"),
], ids=["bom", "utf16", "nan"])
def test_manifest_not_strict_json_is_refused(body, reason, peers, client_env, store_root, imgtool):
    media = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    peer = peers({"/v2/odd/": lambda h: h.send(200, body, media)})
    result = imgtool("pull", f"{peer.host}/odd/image:v1")
    one_line_error(result, rf"{peer.host}/odd/image:v1: invalid JSON: {reason}")


@pytest.mark.parametrize("location, lands", [
    ("session-7", "/v2/team/app/blobs/uploads/session-7"),  # relative to the POST's own URL
    ("../../other/session-8", "/v2/team/app/other/session-8"),
    ("/v2/team/app/blobs/uploads/session-9", "/v2/team/app/blobs/uploads/session-9"),
])
def test_upload_location_is_resolved_as_a_uri_reference(location, lands, peers, client_env):
    """RFC 9110: Location is a URI reference, resolved against the URL that answered (as Go's client
    does); not glued onto the registry's base (`http://hostsession-7`)."""
    def uploads(h):
        if h.command == "POST":
            return h.send(202, headers={"Location": location})
        h.send(201 if h.command == "PUT" else 404)

    peer = peers({"/v2/team/": uploads})
    repo = Repository(Client(peer.host, Options()), "team/app", push=True)
    blob = b"layer bytes"
    repo.upload(Descriptor("application/octet-stream", of_bytes(blob), len(blob)), lambda: io.BytesIO(blob))
    puts = [p.split("?")[0] for m, p, _, _ in peer.seen if m == "PUT"]
    assert puts == [lands]


def test_manifest_sent_gzip_encoded_is_read_decoded(peers, client_env):
    """requests asks for `Accept-Encoding: gzip`; a registry or CDN that honours it sends the
    manifest compressed, and the client must verify and return the manifest's own bytes."""
    import gzip

    manifest = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'

    def encoded(h):
        assert "gzip" in h.headers.get("Accept-Encoding", "")
        h.send(200, gzip.compress(manifest), {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                                              "Content-Encoding": "gzip"})

    peer = peers({"/v2/enc/": encoded})
    repo = Repository(Client(peer.host, Options()), "enc/image")
    data, media_type = repo.manifest(str(of_bytes(manifest)))
    assert data == manifest and media_type == "application/vnd.oci.image.manifest.v1+json"
