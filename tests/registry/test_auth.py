"""Auth: htpasswd basic auth, Docker token auth with the built-in endpoint, anonymous pull, TLS,
read-only mode. Each refusal is checked to have written nothing."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from registry.auth.htpasswd import hash_password
from registry import tlscert

from .conftest import blob_files, error_codes, push_blob, push_image

ALICE = ("alice", "wonderland")
READER = ("reader", "readonly")


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("".join(f"{u}:{hash_password(p, rounds=4)}\n" for u, p in (ALICE, READER)))
    return path


@pytest.fixture
def keypair(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    tlscert.generate(cert, key, ["localhost", "127.0.0.1"])
    return cert, key


def _uploads(root) -> list:
    return [p for p in (root / "uploads").iterdir()] if (root / "uploads").exists() else []


def test_basic_push_without_credentials_401_nothing_written(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd)
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/", params={"digest": "sha256:" + "a" * 64}, data=b"x" * 1000)
    assert r.status_code == 401
    assert error_codes(r) == ["UNAUTHORIZED"]
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert blob_files(reg.root) == [] and _uploads(reg.root) == []


def test_basic_wrong_password_401(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd)
    assert requests.get(f"{reg.url}/v2/", auth=("alice", "nope")).status_code == 401
    assert requests.get(f"{reg.url}/v2/", auth=("mallory", "x")).status_code == 401
    assert requests.get(f"{reg.url}/v2/").status_code == 401


def test_basic_push_and_pull_with_credentials(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd)
    manifest, _ = push_image(reg.url, "app", "v1", [b"layer"], auth=ALICE)
    assert requests.get(f"{reg.url}/v2/app/manifests/v1", auth=ALICE).content == manifest
    assert requests.get(f"{reg.url}/v2/app/manifests/v1").status_code == 401


def test_basic_acl_pull_only_user_DENIED(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd, access={"reader": ["pull"]})
    push_image(reg.url, "app", "v1", [b"layer"], auth=ALICE)
    before = set(blob_files(reg.root))
    assert requests.get(f"{reg.url}/v2/app/manifests/v1", auth=READER).status_code == 200
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/", auth=READER)
    assert r.status_code == 403 and error_codes(r) == ["DENIED"]
    assert set(blob_files(reg.root)) == before


def test_anonymous_pull(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd, anonymous_pull=True)
    manifest, _ = push_image(reg.url, "pub", "v1", [b"layer"], auth=ALICE)
    assert requests.get(f"{reg.url}/v2/pub/manifests/v1").content == manifest
    assert requests.post(f"{reg.url}/v2/pub/blobs/uploads/").status_code == 401


def test_upload_session_bound_to_user(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd)
    r = requests.post(f"{reg.url}/v2/shared/blobs/uploads/", auth=ALICE)
    location = reg.url + r.headers["Location"]
    r = requests.patch(location, data=b"hijack", auth=READER)
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def _token(url, creds, *scopes) -> requests.Response:
    return requests.get(f"{url}/token", params={"service": "imgtool-registry", "scope": list(scopes)}, auth=creds)


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_token_challenge_points_at_token_endpoint(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/")
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{reg.url}/token"')
    assert 'scope="repository:app:pull,push"' in challenge


def test_token_flow_push_and_pull(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    r = _token(reg.url, ALICE, "repository:app:pull,push")
    assert r.status_code == 200
    token = r.json()["token"]
    assert _claims(token)["access"] == [{"type": "repository", "name": "app", "actions": ["pull", "push"]}]
    bearer = {"Authorization": f"Bearer {token}"}
    manifest, _ = push_image(reg.url, "app", "v1", [b"layer"], session=_session(token))
    assert requests.get(f"{reg.url}/v2/app/manifests/v1", headers=bearer).content == manifest
    # the token is for "app" only
    assert requests.get(f"{reg.url}/v2/other/tags/list", headers=bearer).status_code == 401


def test_token_pull_only_used_to_push_denied(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    token = _token(reg.url, ALICE, "repository:app:pull").json()["token"]
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"},
                      params={"digest": "sha256:" + "b" * 64}, data=b"y" * 100)
    assert r.status_code == 401
    assert error_codes(r) == ["UNAUTHORIZED"]
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert blob_files(reg.root) == [] and _uploads(reg.root) == []


def test_token_mount_from_asks_for_the_source_scope_then_mounts(make_registry, htpasswd, keypair):
    """A token for the target only: the mount gets 401 insufficient_scope naming both scopes (as
    distribution answers; clients retry once with the challenge's scope), not a silent 202."""
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    source = _token(reg.url, ALICE, "repository:src:pull,push").json()["token"]
    digest = push_blob(reg.url, "src", b"shared layer", session=_session(source))
    params = {"mount": digest, "from": "src"}
    both = 'scope="repository:dst:pull,push repository:src:pull"'
    r = requests.post(f"{reg.url}/v2/dst/blobs/uploads/", params=params)
    assert r.status_code == 401 and both in r.headers["WWW-Authenticate"]
    target = _token(reg.url, ALICE, "repository:dst:pull,push").json()["token"]
    r = _session(target).post(f"{reg.url}/v2/dst/blobs/uploads/", params=params)
    assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"]
    assert both in r.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert _uploads(reg.root) == []
    wider = _token(reg.url, ALICE, "repository:dst:pull,push", "repository:src:pull").json()["token"]
    r = _session(wider).post(f"{reg.url}/v2/dst/blobs/uploads/", params=params)
    assert r.status_code == 201
    assert _session(wider).get(f"{reg.url}/v2/dst/blobs/{digest}").content == b"shared layer"


def test_token_automatic_mount_goes_by_the_users_rights(make_registry, htpasswd, keypair):
    """Without `from` no client can know which scope to ask for: a token for the target mounts a
    blob its user may pull (201)."""
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1], auto_mount=True)
    source = _token(reg.url, ALICE, "repository:src:pull,push").json()["token"]
    digest = push_blob(reg.url, "src", b"discovered layer", session=_session(source))
    target = _token(reg.url, ALICE, "repository:dst:pull,push").json()["token"]
    r = _session(target).post(f"{reg.url}/v2/dst/blobs/uploads/", params={"mount": digest})
    assert r.status_code == 201
    assert _session(target).get(f"{reg.url}/v2/dst/blobs/{digest}").content == b"discovered layer"


def test_token_mount_of_unknown_blob_is_a_plain_upload(make_registry, htpasswd, keypair):
    """Both scopes granted but no source holds the digest: an upload session (202), as without auth."""
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    token = _token(reg.url, ALICE, "repository:dst:pull,push", "repository:src:pull").json()["token"]
    r = _session(token).post(f"{reg.url}/v2/dst/blobs/uploads/", params={"mount": "sha256:" + "c" * 64, "from": "src"})
    assert r.status_code == 202


def test_token_endpoint_grants_only_allowed_actions(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1], access={"reader": ["pull"]})
    token = _token(reg.url, READER, "repository:app:pull,push,delete").json()["token"]
    assert _claims(token)["access"] == [{"type": "repository", "name": "app", "actions": ["pull"]}]
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_token_endpoint_bad_credentials_401(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    assert _token(reg.url, ("alice", "bad"), "repository:app:pull").status_code == 401


def test_token_forged_or_tampered_rejected(make_registry, htpasswd, keypair, tmp_path):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    token = _token(reg.url, READER, "repository:app:pull").json()["token"]
    header, claims, sig = token.split(".")
    forged_claims = _claims(token)
    forged_claims["access"][0]["actions"] = ["pull", "push"]
    payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    other_cert, other_key = tmp_path / "o.pem", tmp_path / "ok.pem"
    tlscert.generate(other_cert, other_key, ["localhost"])
    from registry.auth.token import TokenSigner

    foreign = TokenSigner(other_key, "imgtool-registry", "imgtool-registry", 300).issue(
        "alice", [{"type": "repository", "name": "app", "actions": ["pull", "push"]}])[0]
    for bad in (f"{header}.{payload}.{sig}", f"{none_header}.{payload}.", foreign, "garbage"):
        r = requests.post(f"{reg.url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    assert _uploads(reg.root) == []


def test_token_anonymous_pull(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1], anonymous_pull=True)
    token = _token(reg.url, ALICE, "repository:pub:pull,push").json()["token"]
    manifest, _ = push_image(reg.url, "pub", "v1", [b"l"], session=_session(token))
    anon = _token(reg.url, None, "repository:pub:pull,push").json()["token"]
    assert _claims(anon)["access"] == [{"type": "repository", "name": "pub", "actions": ["pull"]}]
    assert requests.get(f"{reg.url}/v2/pub/manifests/v1", headers={"Authorization": f"Bearer {anon}"}).content == manifest


def test_token_catalog_scope(make_registry, htpasswd, keypair):
    reg = make_registry(htpasswd=htpasswd, token_key=keypair[1])
    assert requests.get(f"{reg.url}/v2/_catalog").status_code == 401
    token = _token(reg.url, ALICE, "registry:catalog:*").json()["token"]
    assert requests.get(f"{reg.url}/v2/_catalog", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_tls_serves_https(make_registry, keypair):
    reg = make_registry(tls_cert=keypair[0], tls_key=keypair[1])
    assert reg.url.startswith("https://")
    digest = push_blob(reg.url, "tls", b"secret", verify=str(keypair[0]))
    assert requests.get(f"{reg.url}/v2/tls/blobs/{digest}", verify=str(keypair[0])).content == b"secret"


def test_read_only_refuses_writes_UNSUPPORTED(make_registry):
    reg = make_registry(read_only=True)
    r = requests.post(f"{reg.url}/v2/app/blobs/uploads/")
    assert r.status_code == 405 and error_codes(r) == ["UNSUPPORTED"]
    assert requests.delete(f"{reg.url}/v2/app/manifests/latest").status_code == 405
    assert requests.get(f"{reg.url}/v2/").status_code == 200


def test_basic_catalog_needs_catalog_right(make_registry, htpasswd):
    reg = make_registry(htpasswd=htpasswd, access={"reader": ["pull", "catalog"], "alice": ["pull", "push"]})
    assert requests.get(f"{reg.url}/v2/_catalog", auth=READER).status_code == 200
    r = requests.get(f"{reg.url}/v2/_catalog", auth=ALICE)
    assert r.status_code == 403 and error_codes(r) == ["DENIED"]
