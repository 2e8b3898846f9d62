"""The example bases: debian:bookworm from mmdebstrap carries the host's CA certificates, and npm
in the node image imgtool built from it reaches the npm registry over TLS from a RUN step."""

from __future__ import annotations

import re

import pytest

from ..builder.cli import imgtool_cmd
from .conftest import build

pytestmark = pytest.mark.slow


def test_debian_base_has_apt_and_the_host_ca_bundle(debian_root):
    host = open("/etc/ssl/certs/ca-certificates.crt").read()
    out = imgtool_cmd("run", "--rm", "debian:bookworm", "sh", "-c",
                      "cat /etc/ssl/certs/ca-certificates.crt; apt-get --version | head -1",
                      root=debian_root, timeout=120).stdout
    assert host in out
    assert "apt " in out


def test_node_image_runs_node_and_npm_reaches_the_registry_from_a_run_step(node_root, tmp_path):
    ctx = tmp_path / "npm-view"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM node\nRUN cd /tmp && npm view express version > /express-version\n")
    build(node_root, "-t", "npm-view", ctx)
    out = imgtool_cmd("run", "--rm", "npm-view", "sh", "-c",
                      "node -e 'console.log(\"node\", process.version)' && cat /express-version",
                      root=node_root, timeout=120).stdout
    assert "node v18." in out
    assert re.fullmatch(r"\d+\.\d+\.\d+", out.split()[-1]), out  # the registry answered
