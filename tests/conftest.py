"""Shared fixtures: a temporary store, the busybox base image, and a way to run the real CLI.

Every test that touches a store gets its own `$IMGTOOL_ROOT` under tmp_path; the busybox rootfs
tarball is made once per session from Debian's busybox-static by the same recipe users run.
"""

from __future__ import annotations

import os
import subprocess
import sys
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


from .dockerd import DOCKER  # noqa: E402  (Debian's client, the engine's version; tests import it from here)


@pytest.fixture(scope="session")
def dockerd():
    """The session's one private dockerd (tests/dockerd.py: own data root and socket, no iptables,
    no bridge). Yields the client environment (DOCKER_HOST, DOCKER_BUILDKIT=1, a private
    DOCKER_CONFIG) for /usr/bin/docker and the SDK; stopped and removed at the end."""
    from .dockerd import Dockerd, missing  # noqa: PLC0415

    why = missing()
    if why:
        pytest.fail(f"{why} (scripts/setup.sh installs docker.io)")
    daemon = Dockerd().start()
    yield daemon.env
    daemon.stop()
