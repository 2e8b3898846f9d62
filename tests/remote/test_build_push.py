"""The builder's use of the client: FROM of an image not in the store pulls it; `build --push` pushes."""

from __future__ import annotations

import pytest

from imgtool.store import Store

pytestmark = pytest.mark.interop


def test_build_from_a_registry_and_push(make_server, busybox_store, client_env, imgtool, tmp_path):
    server = make_server("imgtool")
    base = f"{server.host}/base/busybox:1"
    imgtool("push", "-q", "busybox", base, check=True)

    builder_store = tmp_path / "builder-store"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.txt").write_text("hello from a pushed build\n")
    (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY hello.txt /hello.txt\n")
    app = f"{server.host}/app/hello:1"
    env = {"IMGTOOL_ROOT": str(builder_store)}
    imgtool("build", "-q", "-t", app, "--push", ctx, env=env, check=True)
    built = Store.open(builder_store).resolve(app)
    assert Store.open(builder_store).resolve(base).layers[0] == busybox_store.resolve("busybox").layers[0]

    imgtool("pull", "-q", app, check=True)  # into the test's own store, from the registry
    pulled = busybox_store.resolve(app)
    assert pulled.descriptor.digest == built.descriptor.digest
    assert len(pulled.layers) == 2
    # the base layer was mounted from base/busybox (the pull remembered where it was), not uploaded
    [mount] = server.mounts()
    assert f"mount=sha256%3A{pulled.layers[0].digest.encoded}&from=base%2Fbusybox" in mount
