"""The wide corpus (tests/inspect/wide.py): every family of the research note, in the files and
encodings real images hold them, found at the right path and line; its decoys never reported."""

from __future__ import annotations

import pytest

from .conftest import cli_json


@pytest.fixture(scope="module")
def wide_store(tmp_path_factory):
    from imgtool.store import Store

    from . import imagespec, wide

    root = tmp_path_factory.mktemp("wide") / "store"
    imagespec.build(Store.open(root), wide.spec(), "wide:1")
    return root


@pytest.fixture(scope="module")
def wide_doc(wide_store):
    return cli_json("inspect", "--secrets", "--format", "json", "wide:1", root=wide_store)


def test_every_family_is_found_where_it_was_planted(wide_doc):
    from . import wide

    result = wide.score(wide_doc["findings"], wide.file_plants(), wide.metadata()[3])
    assert not result["missed"], result["missed"]
    assert len(result["per_family"]) >= 60


def test_no_decoy_is_reported(wide_doc):
    from . import wide

    result = wide.score(wide_doc["findings"], wide.file_plants(), wide.metadata()[3])
    assert not result["false_positives"], result["false_positives"]


def test_archive_members_binary_containers_and_statuses(wide_doc):
    by = {}
    for f in wide_doc["findings"]:
        by.setdefault(f["path"], []).append(f)
    (nested_id, nested_secret) = sorted(by["/var/backups/ci.tar"], key=lambda f: f["line"])
    assert nested_id["archive_member"] == "ci.tar.gz!/home/ci/.aws/credentials" and nested_id["line"] == 2
    assert nested_id["rule_id"] == "aws-access-key-id" and nested_secret["rule_id"] == "aws-secret-access-key"
    assert by["/app/app.jar"][0]["archive_member"] == "BOOT-INF/classes/application.properties"
    assert by["/var/backups/id_rsa.gz"][0]["archive_member"] == "id_rsa"
    (p12,) = by["/app/certs/client.p12"]
    assert p12["rule_id"] == "private-key" and p12["severity"] == "medium" and p12["line"] is None
    (leak,) = by["/var/tmp/leak/.git-credentials"]
    assert (leak["status"], leak["removed_in_layer"], leak["layer_index"]) == ("deleted", 2, 1)
    assert by["/app/scripts/release.ps1"][0]["line"] == 1   # UTF-16LE, counted in characters
    assert by["/usr/local/bin/uploader"][0]["rule_id"] == "aws-access-key-id"
    assert by["/etc/openvpn/client.ovpn"][1]["rule_id"] == "openvpn-static-key"
    for path in ("/app/certs/truststore.p12", "/app/certs/truststore.jks", "/etc/ssl/certs/corpus.der",
                 "/usr/share/keyrings/corpus-archive.asc", "/app/docs/templates.zip"):
        assert path not in by


def test_packaged_test_keys_are_suppressed_and_shown_on_request(wide_store):
    doc = cli_json("inspect", "--secrets", "--show-suppressed", "--format", "json", "wide:1", root=wide_store)
    suppressed = {f["path"] for f in doc["findings"] if f["suppressed"]}
    assert {"/app/node_modules/jsonwebtoken/test/priv.pem", "/app/vendor/github.com/corp/tls/testdata/key.pem",
            "/usr/local/lib/python3.11/site-packages/tornado/test/test.key",
            "/app/node_modules/@octokit/auth-token/test/tokens.js",       # a checksum-valid token, but a test's
            "/usr/lib/python3/dist-packages/awsclient/defaults.py"} <= suppressed
    shown = {f["path"] for f in doc["findings"] if not f["suppressed"]}
    assert {"/app/node_modules/@corp/deploy-config/index.js", "/app/node_modules/.cache/babel-loader/3f2a.json"} <= shown


def test_nothing_leaks_from_the_new_families(wide_store, wide_doc):
    from .conftest import run_cli

    from . import wide

    table = run_cli("inspect", "--secrets", "wide:1", root=wide_store).stdout
    text = table + str(wide_doc)
    env, labels, history, _ = wide.metadata()
    values = [e.split("=", 1)[1] for e in env[1:10]] + [labels["ci.webhook"], labels["ci.registry-password"]]
    for value in values:
        assert value not in text, value[:6]
