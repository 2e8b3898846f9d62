"""Shared fixtures: a temporary store, the busybox base image, and a way to run the real CLI.

Every test that touches a store gets its own `$IMGTOOL_ROOT` under tmp_path; the busybox rootfs
tarball is made once per session from Debian's busybox-static by the same recipe users run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMGTOOL_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    """The busybox base rootfs tarball (dockerfiles/base/busybox-rootfs.sh)."""
    out = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    subprocess.run([str(REPO / "dockerfiles/base/busybox-rootfs.sh"), str(out)], check=True)
    return out


@pytest.fixture
def store_root(tmp_path, monkeypatch) -> Path:
    """A fresh, empty store directory, exported as $IMGTOOL_ROOT for the CLI and the API."""
    root = tmp_path / "store"
    monkeypatch.setenv("IMGTOOL_ROOT", str(root))
    return root


@pytest.fixture
def store(store_root):
    """An opened empty Store at $IMGTOOL_ROOT."""
    from imgtool.store import Store

    return Store.open(store_root)


@pytest.fixture
def busybox_store(store, busybox_rootfs):
    """A store holding `busybox:latest` imported from the busybox rootfs (CMD sh, default PATH)."""
    from imgtool.oci.config import ContainerConfig
    from imgtool.store import rootfs

    config = ContainerConfig(
        env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",), cmd=("sh",)
    )
    with open(busybox_rootfs, "rb") as f:
        rootfs.import_rootfs(store, f, ["busybox:latest"], "rootfs.tar", config=config)
    return store


@pytest.fixture
def busybox_layout(busybox_store) -> Path:
    """Path of an OCI image layout whose index names `busybox` (ref.name annotation)."""
    return busybox_store.path


class CLIResult:
    """What a CLI run returned; `.ok` / `.fail` assert with the output in the message."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def __repr__(self) -> str:
        return f"<exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}>"


@pytest.fixture
def imgtool():
    """Run `python -m imgtool ARGS` in a subprocess (the real entry point, real exit codes)."""

    def run(*args: str, input: bytes | None = None, env: dict | None = None, check: bool | None = None) -> CLIResult:
        proc = subprocess.run(
            [sys.executable, "-m", "imgtool", *map(str, args)],
            input=input, capture_output=True, env={**os.environ, **(env or {})}, timeout=600,
        )
        result = CLIResult(proc)
        result.stdout = proc.stdout.decode(errors="replace")
        result.stderr = proc.stderr.decode(errors="replace")
        if check is True:
            assert proc.returncode == 0, result
        return result

    return run


DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's client, the same version as the engine


@pytest.fixture(scope="session")
def dockerd():
    """A private dockerd shared by the session: no iptables, no bridge, everything under one temp dir
    (short: socket paths). Yields the environment (DOCKER_HOST) for /usr/bin/docker and the SDK."""
    for tool in (DOCKERD, DOCKER):
        if not os.path.exists(tool):
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs docker.io)")
    top = Path(tempfile.mkdtemp(prefix="imgdk", dir="/tmp"))
    sock = top / "sock"
    log = open(top / "dockerd.log", "wb")
    proc = subprocess.Popen([DOCKERD, "--iptables=false", "--bridge=none", "--data-root", str(top / "data"),
                             "-H", f"unix://{sock}", "--exec-root", str(top / "e"), "--pidfile", str(top / "pid")],
                            stdout=log, stderr=log)
    env = {"DOCKER_HOST": f"unix://{sock}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dockerd exited: {(top / 'dockerd.log').read_text()[-2000:]}")
        if sock.exists() and subprocess.run([DOCKER, "version"], env={**os.environ, **env},
                                            capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    else:
        pytest.fail("dockerd did not start within 60 s")
    yield env
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log.close()
    shutil.rmtree(top, ignore_errors=True)
