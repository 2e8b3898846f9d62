"""The secret-leak pitfall and its fix: a key ADDed then `RUN rm`-ed is gone from the running
container but still in a layer; mounted with `RUN --mount=type=secret` it is in no layer."""

from __future__ import annotations

import json
import secrets
import shutil

import pytest

from ..builder.cli import imgtool_cmd
from ..builder.differential.flatten import read_archive
from .conftest import EXAMPLES, build

pytestmark = pytest.mark.slow


def _saved(root, tag: str, tmp_path) -> tuple[list[bytes], bytes]:
    """(every layer tar, the config) of `tag`, as `imgtool save --format docker` ships them."""
    archive = tmp_path / f"{tag}.tar"
    imgtool_cmd("save", tag, "--format", "docker", "-o", archive, root=root)
    image = read_archive(archive)
    return image.layers, json.dumps(image.config).encode()


@pytest.fixture
def context(tmp_path):
    ctx = tmp_path / "secret-leak"
    shutil.copytree(EXAMPLES / "secret-leak", ctx)
    key = f"imgtool-test-deploy-key-{secrets.token_hex(24)}\n".encode()
    (ctx / "leak/deploy_key").write_bytes(key)
    return ctx, key


def test_removed_key_is_still_in_a_layer(examples_root, context, tmp_path):
    ctx, key = context
    build(examples_root, "-t", "secret-leak", ctx / "leak")
    run = imgtool_cmd("run", "--rm", "secret-leak", "sh", "-c", "ls -A /root/.ssh; cat /key-length",
                      root=examples_root)
    assert run.stdout.split() == [str(len(key))]  # the container shows no key...
    layers, _ = _saved(examples_root, "secret-leak", tmp_path)
    assert any(key in layer for layer in layers)  # ...yet the image ships it


def test_secret_mount_keeps_the_key_out_of_the_image(examples_root, context, tmp_path):
    ctx, key = context
    build(examples_root, "--secret", f"id=deploy_key,src={ctx / 'leak/deploy_key'}", "-t", "secret-fixed",
          ctx / "fixed")
    run = imgtool_cmd("run", "--rm", "secret-fixed", root=examples_root)
    assert run.stdout.strip() == str(len(key))
    layers, config = _saved(examples_root, "secret-fixed", tmp_path)
    assert all(key.strip() not in layer for layer in layers)
    assert key.strip() not in config
