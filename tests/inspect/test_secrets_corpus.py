"""`inspect --secrets` on the planted corpus: every planted secret found at the right layer, path,
field and status; decoys not reported; nothing printed that would leak a secret."""

from __future__ import annotations

import json

from .conftest import cli_json, run_cli


def _key(f: dict) -> tuple:
    return (f["source"], f["layer_index"], f["path"], f["config_field"] if f["source"] != "layer" else None,
            f["history_index"], f["secret_sha256"])


def _score(findings: list[dict], truth) -> tuple[list, list, list]:
    found = {_key(f): f for f in findings}
    expected = {t.key(): t for t in truth}
    missed = [t for k, t in expected.items() if k not in found]
    wrong = [(t, found[k]) for k, t in expected.items() if k in found and
             (found[k]["status"], found[k]["removed_in_layer"]) != (t.status, t.removed_in_layer)]
    extra = [f for k, f in found.items() if k not in expected]
    return missed, wrong, extra


def test_recall_location_and_status_on_every_family(corpus_store):
    root, truth, _ = corpus_store
    doc = cli_json("inspect", "--secrets", "--format", "json", "corpus:1", root=root)
    missed, wrong, extra = _score(doc["findings"], truth)
    assert not missed, [(t.family, t.path or t.config_field) for t in missed]
    assert not wrong, [(t.family, t.path, f["status"], t.status) for t, f in wrong]
    assert {t.status for t in truth} == {"visible", "overwritten", "deleted", "deleted-opaque", "n/a"}
    assert {t.source for t in truth} == {"layer", "config", "history"}
    tp = len(doc["findings"]) - len(extra)
    precision = tp / len(doc["findings"])
    assert precision >= 0.95, [(f["rule_id"], f["path"], f["line"]) for f in extra]
    assert not extra, [(f["rule_id"], f["path"], f["line"], f["config_field"]) for f in extra]


def test_findings_carry_the_contract_fields(corpus_store):
    root, _, _ = corpus_store
    doc = cli_json("inspect", "--secrets", "--format", "json", "corpus:1", root=root)
    by_path = {f["path"]: f for f in doc["findings"] if f["path"]}
    pypirc = by_path["/root/.pypirc"]
    assert pypirc["rule_id"] == "pypirc-password" and pypirc["line"] == 6 and pypirc["removed_in_layer"] == 2
    assert pypirc["layer_diff_id"].startswith("sha256:") and pypirc["layer_created_by"].startswith("COPY")
    assert by_path["/root/.ssh/id_ed25519"]["rule_id"] == "ssh-private-key"
    assert by_path["/etc/ssl/private/server.key"]["rule_id"] == "tls-private-key"
    assert by_path["/opt/secrets/deploy.ppk"]["rule_id"] == "putty-private-key"
    assert by_path["/app/keys/gcp.json"]["rule_id"] == "gcp-service-account"
    assert by_path["/app/keys/encrypted.pem"]["severity"] == "medium"
    assert by_path["/tmp/build/.git-credentials"]["rule_id"] == "git-credentials"
    history = [f for f in doc["findings"] if f["source"] == "history"]
    assert {f["rule_id"] for f in history} == {"npm-token", "generic-secret-assignment", "command-line-credential"}
    npm = next(f for f in history if f["rule_id"] == "npm-token")
    assert npm["layer_index"] == 2 and npm["config_field"] == "history[2].created_by" and npm["status"] == "n/a"
    s = doc["summary"]
    assert s["findings"] == len(doc["findings"]) and s["binary_skipped"] == 1 and s["layers"] == 4
    # one fingerprint per secret: the same RSA key in two files is one secret, two occurrences
    assert s["secrets"] == len({f["fingerprint"] for f in doc["findings"]})


def test_examples_and_vendored_fixtures_are_suppressed_not_hidden(corpus_store):
    root, _, _ = corpus_store
    doc = cli_json("inspect", "--secrets", "--show-suppressed", "--format", "json", "corpus:1", root=root)
    suppressed = {f["path"]: f for f in doc["findings"] if f["suppressed"]}
    assert suppressed["/app/docs/aws.txt"]["example_key"] is True
    assert suppressed["/app/static/auth-demo.js"]["suppression_reason"] == "documented example value"
    assert suppressed["/app/README.txt"]["rule_id"] == "stripe-secret-key"
    assert "node_modules" in suppressed["/app/node_modules/ssh2/test/fixtures/id_rsa"]["suppression_reason"]
    assert "usr/share/doc" in suppressed["/usr/share/doc/app/examples/app.conf"]["suppression_reason"]
    assert doc["summary"]["suppressed"] == len(suppressed) + sum(1 for f in doc["findings"] if f["suppressed"]) - len(suppressed)


def test_nothing_printed_leaks_a_secret_unless_asked(corpus_store):
    root, truth, _ = corpus_store
    outputs = [run_cli("inspect", "--secrets", *fmt, "corpus:1", root=root).stdout
               for fmt in ([], ["--format", "json"], ["--format", "sarif"], ["--show-suppressed"],
                           ["--layers"], ["--layers", "--format", "json"])]
    for secret in {t.secret for t in truth}:
        probes = [secret] if "\n" not in secret else [ln for ln in secret.splitlines() if len(ln) >= 40][:2]
        for out in outputs:
            for probe in probes:
                assert probe not in out, f"leaked {probe[:6]}..."
    shown = run_cli("inspect", "--secrets", "--show-secrets", "--format", "json", "corpus:1", root=root).stdout
    assert sum(t.secret in shown or json.dumps(t.secret)[1:-1] in shown for t in truth) == len(truth)


def test_allowlist_by_rule_path_and_hash(corpus_store):
    root, truth, _ = corpus_store
    base = cli_json("inspect", "--secrets", "--format", "json", "corpus:1", root=root)["summary"]["findings"]
    env_sha = next(t.sha256 for t in truth if t.config_field == "Env[2]")
    doc = cli_json("inspect", "--secrets", "--format", "json", "--allow-rule", "jwt", "--allow-path", "/opt/secrets/*",
                   "--allow-hash", env_sha, "corpus:1", root=root)
    assert doc["summary"]["findings"] == base - 6   # jwt (also in /opt/secrets), 4 more there, Env[2]
    assert not any(f["path"] and f["path"].startswith("/opt/secrets/") for f in doc["findings"])
    assert not any(f["secret_sha256"] == env_sha for f in doc["findings"])


def test_sarif_and_table_and_fail_on(corpus_store):
    root, _, _ = corpus_store
    sarif = cli_json("inspect", "--secrets", "--format", "sarif", "corpus:1", root=root)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert results and all(r["ruleId"] and r["partialFingerprints"]["secretSha256"] for r in results)
    assert {r["properties"]["status"] for r in results} >= {"deleted", "deleted-opaque", "overwritten", "visible"}
    table = run_cli("inspect", "--secrets", "corpus:1", root=root).stdout
    assert "DELETED in layer 3, still shipped in layer 1" in table
    assert run_cli("inspect", "--secrets", "--fail-on", "critical", "corpus:1", root=root, check=False).returncode == 1
    proc = run_cli("inspect", "--secrets", "--fail-on", "severe", "corpus:1", root=root, check=False)
    assert proc.returncode != 0 and proc.stderr.startswith("imgtool: --fail-on 'severe'")


def test_oci_layout_source_reads_the_same_image(corpus_store, tmp_path):
    import tarfile

    root, truth, _ = corpus_store
    run_cli("save", "-o", str(tmp_path / "c.tar"), "corpus:1", root=root)
    with tarfile.open(tmp_path / "c.tar") as tar:
        # our own `save` output; Debian 12's Python 3.11.2 predates tarfile's extraction filters
        tar.extractall(tmp_path / "layout", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    names = [m["annotations"].get("org.opencontainers.image.ref.name")
             for m in json.loads((tmp_path / "layout" / "index.json").read_text())["manifests"]]
    doc = cli_json("inspect", "--secrets", "--format", "json", f"oci:{tmp_path / 'layout'}:{names[0]}", root=root)
    missed, wrong, extra = _score(doc["findings"], truth)
    assert not missed and not wrong and not extra
