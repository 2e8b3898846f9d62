"""The example bases: debian:bookworm from mmdebstrap carries the host's CA certificates, and the
node image imgtool built from it reaches the npm registry over TLS from a container."""

from __future__ import annotations

import pytest

from ..builder.cli import imgtool_cmd

pytestmark = pytest.mark.slow


def test_debian_base_has_apt_and_the_host_ca_bundle(debian_root):
    host = open("/etc/ssl/certs/ca-certificates.crt").read()
    out = imgtool_cmd("run", "--rm", "debian:bookworm", "sh", "-c",
                      "cat /etc/ssl/certs/ca-certificates.crt; apt-get --version | head -1; "
                      "test ! -e /etc/resolv.conf && echo no-resolv-conf-baked-in",
                      root=debian_root, timeout=120).stdout
    assert host in out
    assert "apt " in out and "no-resolv-conf-baked-in" in out


def test_node_image_runs_node_and_reaches_the_npm_registry(node_root):
    out = imgtool_cmd("run", "--rm", "node", "sh", "-c",
                      "node -e 'console.log(\"node\", process.version)' && cd /tmp && npm view express@4 version | tail -1",
                      root=node_root, timeout=300).stdout
    assert "node v18." in out
    assert out.strip().splitlines()[-1].split()[-1].startswith("4."), out
