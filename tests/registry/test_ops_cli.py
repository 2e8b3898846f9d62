"""Operations and CLI: /healthz, /metrics, the access log, config loading, one-line CLI errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import requests

from .conftest import push_blob, push_image


def test_healthz(registry):
    r = requests.get(f"{registry.url}/healthz")
    assert r.status_code == 200 and r.text == "ok\n"


def test_metrics_count_requests_by_route_and_status(registry, repo):
    push_image(registry.url, repo, "v1", [b"metered"])
    requests.get(f"{registry.url}/v2/{repo}/manifests/missing")
    text = requests.get(f"{registry.url}/metrics").text
    assert 'registry_http_requests_total{method="PUT",route="/v2/{name}/manifests/{reference}",code="201"}' in text
    assert 'registry_http_requests_total{method="GET",route="/v2/{name}/manifests/{reference}",code="404"}' in text
    assert "registry_blob_bytes_received_total" in text
    assert 'registry_http_request_duration_seconds_bucket{route="/v2/{name}/manifests/{reference}",le="+Inf"}' in text
    assert repo not in text  # labels are route templates, never client-supplied names


def test_access_log_one_line_per_request(spawn, tmp_path):
    reg = spawn(tmp_path / "root")
    requests.get(f"{reg.url}/v2/")
    push_blob(reg.url, "logged", b"x")
    requests.get(f"{reg.url}/v2/logged/tags/list")
    reg.proc.terminate()
    reg.proc.wait(10)
    lines = [ln for ln in reg.proc.stderr.read().decode().splitlines()
             if "HTTP/1.1" in ln and "/healthz" not in ln]  # /healthz: the fixture's readiness probe
    requests_seen = [ln.split('"')[1].split()[:2] for ln in lines]
    assert requests_seen == [["GET", "/v2/"], ["POST", "/v2/logged/blobs/uploads/"],
                             ["PUT", requests_seen[2][1]], ["GET", "/v2/logged/tags/list"]]
    assert lines[0].split('"')[2].split()[0] == "200"


def test_config_file_and_flag_override(tmp_path):
    from registry import config

    path = tmp_path / "r.toml"
    path.write_text(f'root = "{tmp_path}/data"\naddr = "127.0.0.1:6000"\nmax_tags_page = 50\n'
                    '[access]\nreader = ["pull"]\n')
    cfg = config.load(path, addr="127.0.0.1:7000")
    assert cfg.addr == "127.0.0.1:7000" and cfg.max_tags_page == 50
    assert cfg.access == {"reader": ["pull"]} and str(cfg.root) == f"{tmp_path}/data"


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imgtool", "registry", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def _one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.startswith("imgtool: ") and "\n" not in err and "Traceback" not in err, err
    assert needle in err


def test_cli_bad_inputs_are_one_line_errors(tmp_path):
    _one_line_error(_cli("serve", "--root", str(tmp_path), "--addr", "nonsense"), "invalid address")
    _one_line_error(_cli("serve", "--root", str(tmp_path), "--tls-cert", "c.pem"), "--tls-key")
    _one_line_error(_cli("serve", "--root", str(tmp_path), "--htpasswd", str(tmp_path / "none")), "htpasswd")
    bad = tmp_path / "bad.htpasswd"
    bad.write_text("alice:{SHA}abc\n")
    _one_line_error(_cli("serve", "--root", str(tmp_path), "--htpasswd", str(bad)), "bcrypt")
    cfg = tmp_path / "c.toml"
    cfg.write_text("bogus = 1\n")
    _one_line_error(_cli("serve", "--config", str(cfg)), "unknown config keys")
    key = tmp_path / "notakey.pem"
    key.write_text("nope")
    users = tmp_path / "u.htpasswd"
    _cli("htpasswd", str(users), "alice", stdin="pw\n")
    _one_line_error(_cli("serve", "--root", str(tmp_path), "--htpasswd", str(users), "--token-key", str(key)), "token key")


def test_cli_gen_cert_and_htpasswd(tmp_path):
    from cryptography import x509

    proc = _cli("gen-cert", "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "k.pem"))
    assert proc.returncode == 0, proc.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "c.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    users = tmp_path / "users"
    assert _cli("htpasswd", str(users), "alice", stdin="secret\n").returncode == 0
    from registry.auth.htpasswd import Htpasswd

    assert Htpasswd(users).check("alice", "secret") and not Htpasswd(users).check("alice", "wrong")


def test_python_dash_m_registry_help():
    proc = subprocess.run([sys.executable, "-m", "registry", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "serve" in proc.stdout and "gc" in proc.stdout


def test_readyz_follows_storage(make_registry, tmp_path):
    reg = make_registry()
    assert requests.get(f"{reg.url}/readyz").status_code == 200
    (reg.root / "blobs").chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anyway: make the root unusable instead
            (reg.root / "blobs").rename(reg.root / "blobs.gone")
        r = requests.get(f"{reg.url}/readyz")
        assert r.status_code == 503 and "storage unavailable" in r.text
        assert requests.get(f"{reg.url}/healthz").status_code == 200  # liveness never asks storage
    finally:
        if (reg.root / "blobs.gone").exists():
            (reg.root / "blobs.gone").rename(reg.root / "blobs")
        (reg.root / "blobs").chmod(0o755)


def test_metrics_bytes_sessions_storage_latency_and_gc(make_registry, repo):
    reg = make_registry(gc_interval=0.2, gc_grace=3.0)
    digest = push_blob(reg.url, repo, b"x" * 1000)
    requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}")
    r = requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/")
    requests.delete(reg.url + r.headers["Location"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the scheduled GC takes the unreferenced blob
        text = requests.get(f"{reg.url}/metrics").text
        if "registry_gc_deleted_blobs_total 1" in text:
            break
        time.sleep(0.2)
    lines = set(text.splitlines())
    assert "registry_blob_bytes_received_total 1000" in lines
    assert "registry_blob_bytes_sent_total 1000" in lines
    assert "registry_upload_sessions_started_total 2" in lines
    assert "registry_upload_sessions_committed_total 1" in lines
    assert "registry_upload_sessions_cancelled_total 1" in lines
    assert "registry_gc_freed_bytes_total 1000" in lines and "registry_gc_deleted_blobs_total 1" in lines
    assert any(line.startswith('registry_gc_runs_total{result="ok"}') for line in lines)
    assert any(line.startswith('registry_storage_operation_seconds_count{backend="filesystem",op="commit_upload"}')
               for line in lines)
    assert requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}").status_code == 404
    # exposition format: one HELP and TYPE per family, before its samples
    families = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert len(families) == len(set(families))


def test_sigterm_does_not_wait_for_a_stalled_upload(spawn, tmp_path):
    reg = spawn(tmp_path / "root")
    location = requests.post(f"{reg.url}/v2/stalled/blobs/uploads/").headers["Location"]
    with socket.create_connection(("127.0.0.1", reg.port)) as client:  # promises 1 MB, sends 1 kB
        client.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n".encode()
                       + b"x" * 1000)
        time.sleep(0.3)
        started = time.monotonic()
        reg.proc.terminate()
        reg.proc.wait(30)
        assert time.monotonic() - started < 10  # aiohttp's default grace held it for 60 s
