"""Auth: Bearer tokens against imgtool's registry, Basic against distribution (htpasswd); login and
logout in docker's config.json; one-line refusals; the password never in output, logs or argv."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.remote.conftest import one_line_error

pytestmark = pytest.mark.interop

PASSWORD = "s3cret-Pa55word"


def _htpasswd(tmp_path: Path, imgtool) -> Path:
    path = tmp_path / "users.htpasswd"
    imgtool("registry", "htpasswd", path, "alice", input=f"{PASSWORD}\n".encode(), check=True)
    return path


@pytest.fixture(params=["imgtool-token", "distribution-basic"])
def auth_server(request, make_server, tmp_path, imgtool):
    users = _htpasswd(tmp_path, imgtool)
    if request.param == "imgtool-token":
        key = tmp_path / "token.key"
        imgtool("registry", "gen-cert", "--cert", tmp_path / "token.crt", "--key", key, check=True)
        return make_server("imgtool", "--htpasswd", str(users), "--token-key", str(key))
    return make_server("distribution", htpasswd=str(users))


def _no_secret(*texts: str) -> None:
    encoded = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    for text in texts:
        assert PASSWORD not in text and encoded not in text


def test_login_push_pull_logout(auth_server, busybox_store, client_env, imgtool, tmp_path):
    host, dest = auth_server.host, f"{auth_server.host}/team/busybox:v1"
    anonymous = imgtool("push", "busybox", dest)
    one_line_error(anonymous, rf"{host}: authentication required \(run `imgtool login {host}`\)")

    wrong = imgtool("login", "-u", "alice", "--password-stdin", host, input=b"not-the-password\n")
    line = one_line_error(wrong, rf"{host}: unauthorized: wrong username or password")
    assert not (client_env / ".docker/config.json").exists()

    # the password goes through stdin: not in the process list while login runs
    login = subprocess.Popen([sys.executable, "-m", "imgtool", "login", "-u", "alice", "--password-stdin", host],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    argv = Path(f"/proc/{login.pid}/cmdline").read_bytes().decode(errors="replace")
    out, err = login.communicate(f"{PASSWORD}\n".encode(), timeout=60)
    assert login.returncode == 0, err
    assert b"Login Succeeded" in out
    config = client_env / ".docker/config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    entry = json.loads(config.read_text())["auths"][host]
    assert base64.b64decode(entry["auth"]).decode() == f"alice:{PASSWORD}"

    pushed = imgtool("push", "busybox", dest, check=True)
    pulled = imgtool("pull", dest, env={"IMGTOOL_ROOT": str(tmp_path / "other")}, check=True)
    assert pulled.stdout.strip().endswith(dest)
    if auth_server.kind == "imgtool":
        assert any(p.startswith("/token") for _, p, _ in auth_server.requests())  # Bearer, not Basic
    _no_secret(argv, line, wrong.stdout, out.decode(), err.decode(), pushed.stdout, pushed.stderr,
               pulled.stdout, pulled.stderr, auth_server.log.read_text(errors="replace"))

    assert "Removing login credentials" in imgtool("logout", host, check=True).stdout
    assert host not in json.loads(config.read_text()).get("auths", {})
    one_line_error(imgtool("pull", dest), r"authentication required")
    assert f"Not logged in to {host}" in imgtool("logout", host, check=True).stdout


def test_existing_docker_config_and_credential_helper(make_server, busybox_store, client_env, imgtool, tmp_path):
    """A config written by docker (credsStore helper) is used as is; the helper gets the secret on stdin."""
    users = _htpasswd(tmp_path, imgtool)
    server = make_server("distribution", htpasswd=str(users))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    vault = tmp_path / "vault.json"
    helper = bindir / "docker-credential-testvault"
    helper.write_text(f"""#!{sys.executable}
import json, sys
vault = {str(vault)!r}
action, data = sys.argv[1], sys.stdin.read()
try:
    stored = json.load(open(vault))
except FileNotFoundError:
    stored = {{}}
if action == "get":
    if data.strip() not in stored:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(stored[data.strip()]))
elif action == "store":
    item = json.loads(data); stored[item["ServerURL"]] = {{"Username": item["Username"], "Secret": item["Secret"]}}
    json.dump(stored, open(vault, "w"))
elif action == "erase":
    stored.pop(data.strip(), None); json.dump(stored, open(vault, "w"))
""")
    helper.chmod(0o755)
    (client_env / ".docker").mkdir()
    (client_env / ".docker/config.json").write_text(json.dumps({"credsStore": "testvault", "auths": {}}))
    env = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}
    login = imgtool("login", "-u", "alice", "--password-stdin", server.host, input=PASSWORD.encode(), env=env, check=True)
    assert "docker-credential-testvault" in login.stdout
    assert PASSWORD not in (client_env / ".docker/config.json").read_text()
    assert json.loads(vault.read_text())[server.host]["Secret"] == PASSWORD
    imgtool("push", "-q", "busybox", f"{server.host}/x/busybox:1", env=env, check=True)
    imgtool("logout", server.host, env=env, check=True)
    assert server.host not in json.loads(vault.read_text())
