"""A private Debian dockerd (docker.io): the tests' one session daemon (tests/conftest.py
`dockerd`) and bench/build.py's.

Each instance has its own data root, exec root (its managed containerd and runc state live there),
pid file, socket and an empty config file, so several run side by side with whatever dockerd or
containerd the machine already has. No bridge and no iptables: builds use `--network host`.
The client is docker.io's /usr/bin/docker with DOCKER_BUILDKIT=1 and a private DOCKER_CONFIG: the
newer client first on the PATH wants buildx, which this machine does not have.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"


def missing() -> str | None:
    """Why a private dockerd cannot run here (None when it can)."""
    for tool in (DOCKERD, DOCKER):
        if not os.access(tool, os.X_OK):
            return f"{tool} is not installed (apt-get install docker.io)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def docker(env: dict, *args, input: bytes | None = None, check: bool = True, timeout: float = 600,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run docker.io's client with `env` (DOCKER_HOST...); with check, a failure raises with its output."""
    proc = subprocess.run([DOCKER, *map(str, args)], input=input, capture_output=True,
                          env={**os.environ, **env}, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(map(str, args))} exited {proc.returncode}:\n"
                           f"{proc.stdout.decode(errors='replace')[-3000:]}\n"
                           f"{proc.stderr.decode(errors='replace')[-3000:]}")
    return proc


class Dockerd:
    """One dockerd started in a short temp dir (unix socket paths are limited to 108 bytes)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="dkd-", dir="/tmp"))
        self.sock = self.base / "docker.sock"
        self.env = {  # what a client needs on top of os.environ
            "DOCKER_HOST": f"unix://{self.sock}",
            "DOCKER_BUILDKIT": "1",
            "DOCKER_CONFIG": str(self.base / "client"),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Dockerd:
        """Start the daemon and wait until it answers `docker version`."""
        (self.base / "client").mkdir()
        (self.base / "client/config.json").write_text("{}")
        (self.base / "daemon.json").write_text(json.dumps({}))
        log = open(self.base / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [DOCKERD, "--iptables=false", "--ip6tables=false", "--bridge=none", "--userland-proxy=false",
             "--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec"),
             "--pidfile", str(self.base / "dockerd.pid"), "--config-file", str(self.base / "daemon.json"),
             "-H", f"unix://{self.sock}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}: {self.log_tail()}")
            if self.sock.exists() and self.docker("version", check=False, timeout=20).returncode == 0:
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"dockerd did not answer in {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (self.base / "dockerd.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def docker(self, *args, **kw) -> subprocess.CompletedProcess:
        """`docker ARGS` against this daemon (see `docker`)."""
        return docker(self.env, *args, **kw)

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL of its process group), unmount and remove its dirs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._unmount_leftovers()
        shutil.rmtree(self.base, ignore_errors=True)

    def _unmount_leftovers(self) -> None:
        prefix = str(self.base) + "/"
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
