"""Client test fixtures: real registries as subprocesses (imgtool's and Debian's distribution 2.8)
with their access logs on disk, so tests count the requests a client really made.

Every test gets its own HOME (docker config), XDG cache (blob locations) and store.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.registry.conftest import free_port, wait_ready

_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/1\.[01]" (\d{3})')


@dataclass
class Server:
    """A registry subprocess; `requests()` parses its access log."""

    kind: str
    root: Path
    log: Path
    port: int
    args: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    extra: dict = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> "Server":
        logf = open(self.log, "ab")
        if self.kind == "imgtool":
            cmd = [sys.executable, "-m", "registry", "serve", "--root", str(self.root), "--addr", self.host, *self.args]
        else:
            cmd = ["/usr/bin/docker-registry", "serve", str(self._distribution_config())]
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=logf)
        logf.close()
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} registry exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} registry did not start")

    def _distribution_config(self) -> Path:
        config = self.root.parent / f"distribution-{self.port}.yml"
        auth = ""
        if self.extra.get("htpasswd"):
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {self.extra['htpasswd']}\n"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root}\n  delete:\n    enabled: true\n"
            f"{auth}http:\n  addr: {self.host}\n")
        return config

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request logged so far."""
        return [(m, p, int(s)) for m, p, s in _REQUEST.findall(self.log.read_text(errors="replace"))]

    def blob_uploads(self) -> list[str]:
        """Paths of blob-upload PUTs (one per uploaded blob)."""
        return [p for m, p, s in self.requests() if m == "PUT" and "/blobs/uploads/" in p]

    def mounts(self) -> list[str]:
        return [p for m, p, s in self.requests() if m == "POST" and "mount=" in p and s == 201]


@pytest.fixture
def peers():
    """Factory of hostile peers (tests/remote/hostile.py), all closed after the test."""
    from tests.remote.hostile import HostilePeer

    made: list["HostilePeer"] = []

    def make(routes: dict | None = None) -> "HostilePeer":
        made.append(HostilePeer(routes))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


@pytest.fixture
def client_env(tmp_path, monkeypatch):
    """A private HOME (docker config), blob-location cache and store for the CLI and the API."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return home


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server("imgtool"|"distribution", *serve_args, **extra) -> a started Server."""
    started: list[Server] = []

    def make(kind: str, *args: str, **extra) -> Server:
        if kind == "distribution" and not Path("/usr/bin/docker-registry").exists():
            pytest.fail("/usr/bin/docker-registry is not installed (scripts/setup.sh installs docker-registry)")
        n = len(started)
        server = Server(kind, tmp_path / f"{kind}-{n}", tmp_path / f"{kind}-{n}.log", free_port(), args, extra=extra)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(params=["imgtool", "distribution"])
def server(request, make_server):
    """An open registry of each kind."""
    return make_server(request.param)


def tree_state(root: Path) -> dict[str, bytes]:
    """Everything in a store that matters (lock files and the scratch dir aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and "tmp" not in p.relative_to(root).parts}


def one_line_error(result, pattern: str) -> str:
    """Assert a failed CLI run ended with exactly one `imgtool: ...` line matching `pattern` (progress
    lines may come before it)."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("imgtool: ")]
    assert len(lines) == 1 and result.stderr.strip().endswith(lines[0]), result
    assert "Traceback" not in result.stderr
    assert re.search(pattern, lines[0]), result
    return lines[0]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    return path
