"""Layer order: with the dependency install before the source copy, a change to server.js re-runs
only the source step; with it after, the npm install runs again too. A step that ran again makes
a new layer (npm writes files with the time it ran), a cache hit reuses the very same layer."""

from __future__ import annotations

import json
import shutil

import pytest

from ..builder.cli import imgtool_cmd
from .conftest import EXAMPLES, build

pytestmark = pytest.mark.slow


def _history_layers(root, tag: str) -> dict[str, str]:
    """{created_by: layer digest} for each history entry of `tag` that made a layer."""
    from imgtool.store import Store

    image = Store.open(root).resolve(tag)
    history = [h for h in json.loads(image.config_bytes)["history"] if not h.get("empty_layer")]
    layers = [layer["digest"] for layer in json.loads(image.manifest_bytes)["layers"]]
    return {h.get("created_by", ""): digest for h, digest in zip(history, layers)}


@pytest.mark.parametrize("order, reinstalls", [("good", False), ("bad", True)])
def test_a_source_change_reruns(node_root, tmp_path, order, reinstalls):
    ctx = tmp_path / "app"
    shutil.copytree(EXAMPLES / "layer-order", ctx)
    tag = f"layer-order-{order}"
    build(node_root, "-f", ctx / f"Dockerfile.{order}", "-t", tag, ctx)
    before = _history_layers(node_root, tag)
    with open(ctx / "server.js", "a") as f:
        f.write("// a one-line change\n")
    build(node_root, "-f", ctx / f"Dockerfile.{order}", "-t", tag, ctx)
    after = _history_layers(node_root, tag)
    npm = next(k for k in after if "npm install" in k)
    source = next(k for k in after if k.startswith("COPY . ."))
    assert after[source] != before[source]
    assert (after[npm] != before[npm]) is reinstalls
    check = imgtool_cmd("run", "--rm", tag, "sh", "-c",
                        "tail -1 server.js && node -e \"require('express'); console.log('express ok')\"",
                        root=node_root, timeout=120).stdout
    assert "a one-line change" in check and "express ok" in check
