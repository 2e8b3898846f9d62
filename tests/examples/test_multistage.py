"""The multi-stage lesson: the golang build stage is hundreds of MB, the shipped image a few."""

from __future__ import annotations

import pytest

from ..builder.cli import imgtool_cmd
from ..builder.differential.flatten import read_archive
from .conftest import EXAMPLES, build, free_port

pytestmark = pytest.mark.slow

MB = 1000 * 1000


def _unpacked_size(root, tag: str, tmp_path) -> int:
    """Bytes of the image's layers uncompressed (what `docker images` shows as SIZE)."""
    archive = tmp_path / f"{tag}.tar"
    imgtool_cmd("save", tag, "--format", "docker", "-o", archive, root=root, timeout=300)
    return sum(len(layer) for layer in read_archive(archive).layers)


def test_final_image_is_small_and_serves(debian_root, tmp_path, serve):
    build(debian_root, "-t", "multistage", EXAMPLES / "multistage")
    build(debian_root, "--target", "build", "-t", "multistage-build", EXAMPLES / "multistage")
    # the build stage really holds the toolchain: measured inside the running container
    du = imgtool_cmd("run", "--rm", "multistage-build", "du", "-sxk", "/", root=debian_root, timeout=120)
    assert int(du.stdout.split()[0]) * 1024 > 200 * MB, du.stdout
    assert _unpacked_size(debian_root, "multistage", tmp_path) < 15 * MB
    port = free_port()
    server = serve(debian_root, "--network", "host", "multistage", "-addr", f"127.0.0.1:{port}", port=port)
    assert server.get("/") == "Hello from a multi-stage build!\n"
