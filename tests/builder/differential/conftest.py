"""Session fixtures for the differential tests: the session's dockerd, the same busybox base in it
and in an imgtool store, and a web server on 127.0.0.1 for `ADD <url>`."""

from __future__ import annotations

import functools
import http.server
import io
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.dockerd import docker

from ..cli import imgtool_cmd
from .flatten import read_archive

# the content `add-checksum/Dockerfile` pins with --checksum
HELLO = b"hello from the test web server\n"


class Engine:
    """docker.io's client on the session's dockerd (tests/conftest.py)."""

    def __init__(self, env: dict):
        self.env = env

    def docker(self, *args, **kw) -> subprocess.CompletedProcess:
        return docker(self.env, *args, **kw)


@pytest.fixture(scope="session")
def engine(dockerd) -> Engine:
    return Engine(dockerd)


@pytest.fixture(scope="session")
def diff_store(tmp_path_factory, engine) -> Path:
    """An imgtool store with busybox:latest, and the very same image loaded into the engine."""
    root = tmp_path_factory.mktemp("diffstore") / "store"
    rootfs = root.parent / "rootfs.tar"
    subprocess.run([str(REPO / "dockerfiles/base/busybox-rootfs.sh"), str(rootfs)], check=True)
    imgtool_cmd("import", rootfs, "-t", "busybox:latest",
                "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change", 'CMD ["sh"]', root=root)
    archive = root.parent / "busybox-docker.tar"
    imgtool_cmd("save", "busybox:latest", "--format", "docker", "-o", archive, root=root)
    engine.docker("load", "-i", archive)
    return root


@pytest.fixture(scope="session")
def base_tree(diff_store) -> dict:
    """The busybox base's flattened tree (what every corpus build starts from)."""
    return read_archive(diff_store.parent / "busybox-docker.tar").tree


@pytest.fixture(scope="session")
def web(tmp_path_factory) -> str:
    """Base URL of a web server on 127.0.0.1 serving hello.txt and archive.tar.gz."""
    www = tmp_path_factory.mktemp("www")
    (www / "hello.txt").write_bytes(HELLO)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("inside.txt")
        info.size = len(HELLO)
        tar.addfile(info, io.BytesIO(HELLO))
    (www / "archive.tar.gz").write_bytes(buf.getvalue())
    handler = functools.partial(QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass
