"""Hand-off to a real Docker engine (Debian's dockerd, started here with its own data root and socket):
an imgtool image runs under `docker run`; a `docker build` image runs under `imgtool run`."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import DOCKER

pytestmark = [pytest.mark.interop, pytest.mark.slow]


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
