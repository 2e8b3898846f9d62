"""What import, load, save, push, pull and copy print: `-q` gives only what docker (skopeo for copy)
prints with -q, a run that is not on a terminal has no escape codes and never imports rich, and a run
whose stderr is a terminal draws rich's bars there (stdout keeps only the result)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys

import pytest

ESC = "\x1b"
_DIGEST = r"sha256:[0-9a-f]{64}"


def _imports_rich(stderr: str) -> bool:
    """True when a PYTHONPROFILEIMPORTTIME run's report lists any rich module."""
    return any(re.search(r"\|\s+rich(\.|$)", line) for line in stderr.splitlines() if line.startswith("import time:"))


def _not_import_lines(stderr: str) -> str:
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))


def test_quiet_prints_only_the_result(server, busybox_store, busybox_rootfs, client_env, imgtool, tmp_path):
    imported = imgtool("import", "-q", busybox_rootfs, "-t", "quiet:1", check=True)
    assert re.fullmatch(_DIGEST + r"\n", imported.stdout) and imported.stderr == ""  # docker import: the ID

    archive = tmp_path / "saved.tar"
    saved = imgtool("save", "-q", "-o", archive, "busybox", check=True)
    assert saved.stdout == "" and saved.stderr == ""
    loaded = imgtool("load", "-q", "-i", archive, env={"IMGTOOL_ROOT": str(tmp_path / "other")}, check=True)
    assert loaded.stdout == "Loaded image: busybox:latest\n" and loaded.stderr == ""  # docker load -q

    ref = f"{server.host}/q/busybox:v1"
    pushed = imgtool("push", "-q", "busybox", ref, check=True)
    assert pushed.stdout == f"{ref}\n" and pushed.stderr == ""  # docker push -q: the reference
    pulled = imgtool("pull", "-q", ref, env={"IMGTOOL_ROOT": str(tmp_path / "pulled")}, check=True)
    assert pulled.stdout == f"{ref}\n" and pulled.stderr == ""  # docker pull -q: the reference
    copied = imgtool("copy", "-q", f"docker://{ref}", f"oci:{tmp_path / 'layout'}:v1", check=True)
    assert re.fullmatch(_DIGEST + r"\n", copied.stdout) and copied.stderr == ""


def test_not_on_a_terminal_plain_text_and_no_rich(server, busybox_store, busybox_rootfs, client_env, imgtool, tmp_path):
    env = {"PYTHONPROFILEIMPORTTIME": "1", "TERM": "xterm-256color", "FORCE_COLOR": ""}
    ref = f"{server.host}/plain/busybox:v1"
    archive = tmp_path / "saved.tar"
    runs = {
        "import": imgtool("import", busybox_rootfs, "-t", "plain:1", env=env, check=True),
        "save": imgtool("save", "-o", archive, "busybox", env=env, check=True),
        "load": imgtool("load", "-i", archive, env={**env, "IMGTOOL_ROOT": str(tmp_path / "other")}, check=True),
        "push": imgtool("push", "busybox", ref, env=env, check=True),
        "pull": imgtool("pull", ref, env={**env, "IMGTOOL_ROOT": str(tmp_path / "pulled")}, check=True),
        "copy": imgtool("copy", f"docker://{ref}", f"oci:{tmp_path / 'layout'}:v1", env=env, check=True),
    }
    for command, result in runs.items():
        assert not _imports_rich(result.stderr), f"{command} imported rich off a terminal"
        shown = result.stdout + _not_import_lines(result.stderr)
        assert ESC not in shown, f"{command}: escape codes off a terminal: {shown!r}"
    assert "Copying blob" in _not_import_lines(runs["push"].stderr)  # skopeo's plain lines
    assert "Copying blob" in _not_import_lines(runs["pull"].stderr)


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); returns (exit, stdout, terminal)."""
    try:
        leader, follower = pty.openpty()
    except OSError as exc:
        pytest.skip(f"no pseudo-terminal to run on ({exc.strerror}: /dev/ptmx)")
    proc = subprocess.Popen([sys.executable, "-m", "imgtool", *args], stdout=subprocess.PIPE, stderr=follower,
                            stdin=subprocess.DEVNULL, env={**os.environ, **env, "TERM": "xterm", "COLUMNS": "100"})
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            pytest.fail(f"{args}: no output on the terminal for 120 s")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    out = proc.stdout.read().decode()  # type: ignore[union-attr]
    return proc.wait(60), out, seen.decode(errors="replace")


def test_on_a_terminal_bars_on_stderr_only(busybox_store, client_env, imgtool, tmp_path):
    archive = tmp_path / "saved.tar"
    code, out, terminal = _on_a_terminal(["save", "-o", str(archive), "busybox"], {})
    assert code == 0 and out == ""
    assert "blob" in terminal and ESC in terminal  # a rich bar per blob
    code, out, terminal = _on_a_terminal(["load", "-i", str(archive)], {"IMGTOOL_ROOT": str(tmp_path / "other")})
    assert code == 0 and out == "Loaded image: busybox:latest\n"
    assert "Loading saved.tar" in terminal and ESC in terminal
    code, out, terminal = _on_a_terminal(["load", "-q", "-i", str(archive)], {"IMGTOOL_ROOT": str(tmp_path / "third")})
    assert code == 0 and out == "Loaded image: busybox:latest\n" and terminal == ""
