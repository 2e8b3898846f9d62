"""Hand-off to a real Docker engine (Debian's dockerd, started here with its own data root and socket):
an imgtool image runs under `docker run`; a `docker build` image runs under `imgtool run`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.slow]

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's client, the same version as the engine


@pytest.fixture(scope="module")
def dockerd():
    """A private dockerd: no iptables, no bridge, everything under one temp dir (short: socket paths)."""
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


def docker(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *map(str, args)], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)


def test_imgtool_image_runs_in_docker(dockerd, store, busybox_rootfs, imgtool):
    imgtool("import", busybox_rootfs, "-t", "hello:1", "-c", 'CMD ["echo", "hello from imgtool"]', check=True)
    imgtool("copy", "-q", "hello:1", "docker-daemon:imgtool/hello:1", env=dockerd, check=True)
    ran = docker(dockerd, "run", "--rm", "--network", "none", "imgtool/hello:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hello from imgtool\n"


def test_docker_build_image_runs_in_imgtool(dockerd, store, busybox_rootfs, imgtool, tmp_path):
    imgtool("import", busybox_rootfs, "-t", "base:1", check=True)
    imgtool("copy", "-q", "base:1", "docker-daemon:imgtool/base:1", env=dockerd, check=True)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM imgtool/base:1\nRUN echo built by docker > /msg\nCMD ["cat", "/msg"]\n')
    built = docker(dockerd, "build", "--network", "none", "-q", "-t", "from-docker:1", ctx)
    assert built.returncode == 0, built.stderr
    imgtool("copy", "-q", "docker-daemon:from-docker:1", "from-docker:1", env=dockerd, check=True)
    ran = imgtool("run", "--rm", "from-docker:1")
    assert ran.returncode == 0, ran
    assert ran.stdout == "built by docker\n"
    missing = imgtool("copy", "docker-daemon:no-such:1", "x", env=dockerd)
    assert missing.returncode != 0 and missing.stderr.strip().endswith("no such image in the docker engine")


def test_engine_down_is_one_line(imgtool, tmp_path, store):
    result = imgtool("copy", "docker-daemon:x:1", "x", env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"imgtool: docker engine at unix://{tmp_path}/nothing.sock: "
                                                  "not running or not reachable"]
