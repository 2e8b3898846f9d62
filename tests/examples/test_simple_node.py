"""The book's example 2.1-2.4: express from the npm registry, "Hello World!" on port 3000."""

from __future__ import annotations

import socket

import pytest

from .conftest import EXAMPLES, build, free_port

pytestmark = pytest.mark.slow


def _port_3000_free() -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 3000))
        except OSError:
            return False
    return True


def test_simple_node_serves_hello_world(node_root, serve):
    build(node_root, "-t", "simple-node", EXAMPLES / "simple-node")
    # port 3000 as in the book, unless another engineer's test holds it on this shared host
    port, env = (3000, []) if _port_3000_free() else ((p := free_port()), ["-e", f"PORT={p}"])
    server = serve(node_root, "--network", "host", *env, "simple-node", port=port)
    assert server.get("/") == "Hello World!"
