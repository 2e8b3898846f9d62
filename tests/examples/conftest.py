"""One store per test session holding the example bases, made by the recipes users run:
busybox (make-base.sh), debian:bookworm (make-debian.sh: mmdebstrap + import) and node
(make-node.sh: `imgtool build` with apt-get install nodejs npm). Later fixtures reuse it, so each
base is made once per session and the examples' builds share its build cache."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

from ..builder.cli import imgtool_cmd

EXAMPLES = REPO / "dockerfiles"


def _recipe(script: str, root: Path, timeout: float) -> None:
    env = {**os.environ, "IMGTOOL_ROOT": str(root), "PYTHONPATH": str(REPO),
           "IMGTOOL": f"{shlex.quote(sys.executable)} -m imgtool", "QUIET": "1"}
    # its own session: on a timeout the whole group goes, not only the shell (imgtool would outlive it)
    proc = subprocess.Popen([str(EXAMPLES / "base" / script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{script} took over {timeout}s:\n{out[-3000:]}\n{err[-3000:]}") from None
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{out[-3000:]}\n{err[-3000:]}"


@pytest.fixture(scope="session")
def examples_root(tmp_path_factory) -> Path:
    """The session's example store, with busybox:latest."""
    root = tmp_path_factory.mktemp("examples") / "store"
    _recipe("make-base.sh", root, timeout=120)
    return root


@pytest.fixture(scope="session")
def debian_root(examples_root) -> Path:
    """... plus debian:bookworm (mmdebstrap downloads the minbase packages)."""
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (scripts/setup.sh installs it)")
    _recipe("make-debian.sh", examples_root, timeout=600)
    return examples_root


@pytest.fixture(scope="session")
def node_root(debian_root) -> Path:
    """... plus node:latest, built by imgtool from debian:bookworm."""
    _recipe("make-node.sh", debian_root, timeout=900)
    return debian_root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`imgtool run` of a server image in the background; `get()` polls it until it answers."""

    def __init__(self, root: Path, *args: str, port: int):
        env = {**os.environ, "IMGTOOL_ROOT": str(root), "PYTHONPATH": str(REPO)}
        self.port = port
        self.log = open(root.parent / f"served-{port}.log", "w+b")
        self.proc = subprocess.Popen([sys.executable, "-m", "imgtool", "run", "--rm", *args],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def get(self, path: str = "/", timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    raise AssertionError(f"server did not answer (exit {self.proc.poll()}):\n"
                                         f"{self.log.read().decode(errors='replace')[-3000:]}")
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # the container's init dies with it (PDEATHSIG)
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def serve():
    """Start servers with serve(root, *run_args, port=N); all are stopped after the test."""
    started: list[Served] = []

    def start(root: Path, *args: str, port: int) -> Served:
        served = Served(root, *args, port=port)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def build(root: Path, *args, timeout: float = 900):
    """`imgtool build -q --network host ARGS` (raises with the output on failure). Quiet: the
    image summary a plain build ends with reads every layer (minutes for node's 500 MB)."""
    return imgtool_cmd("build", "-q", "--network", "host", *args, root=root, timeout=timeout)
