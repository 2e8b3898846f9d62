"""Fixtures for container tests: the busybox store, an httpd image, images with hostile files, and
`host_clean`, which removes every container of the test's store and then asserts that nothing of
them is left on the host (process, cgroup, mount, runtime state, network namespace, writable layer).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from imgtool.containers.network import RUN_ROOT
from imgtool.oci.config import ContainerConfig
from imgtool.runtime import state as rstate

PATH_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
# httpd in the foreground, logging to stderr; a TERM trap so `stop` ends it at once
HTTPD = ["sh", "-c", "mkdir -p /www && echo \"hello from $(hostname)\" > /www/index.html && "
         "trap 'exit 0' TERM; httpd -f -v -p 80 -h /www & wait"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces and cgroups")


def free_port() -> int:
    """An ephemeral port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, timeout: float = 10) -> str:
    """GET / on 127.0.0.1:port, retried until it answers (the server may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            if data:
                return data.decode(errors="replace")
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on 127.0.0.1:{port}")
        time.sleep(0.05)


def until(cond, timeout: float = 30, what: str = "the condition") -> None:
    """Poll `cond` until it holds: what a container does after `run -d` returns (its shell setting a
    trap, its monitor writing the log) happens in its own time, which on a loaded machine can be
    seconds; a fixed sleep or a single look races it."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.05)


def state(store, cid: str) -> dict:
    return json.loads((store.path / "containers" / cid / "state.json").read_text())


def leftovers(cid: str) -> list[str]:
    """Everything of container `cid` still on the host."""
    found = []
    if (Path(rstate.STATE_ROOT) / cid).exists():
        found.append(f"runtime state {rstate.STATE_ROOT}/{cid}")
    if (RUN_ROOT / cid).exists():
        found.append(f"run dir {RUN_ROOT / cid}")
    found += [f"cgroup {p}" for h in Path("/sys/fs/cgroup").iterdir() for p in h.rglob(cid)]
    found += [f"mount {line}" for line in Path("/proc/self/mountinfo").read_text().splitlines() if cid in line]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cid.encode() in cmd:
            found.append(f"process {pid}: {cmd!r}")
    return found


def no_process(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


@pytest.fixture
def cstore(busybox_store):
    """The busybox store; afterwards every container in it is force-removed and checked gone."""
    yield busybox_store
    root = busybox_store.path / "containers"
    ids = [d.name for d in root.iterdir() if d.is_dir()] if root.exists() else []
    if ids:
        subprocess.run([sys.executable, "-m", "imgtool", "rm", "-f", *ids], capture_output=True, timeout=120)
    for cid in ids:
        assert not leftovers(cid), leftovers(cid)
    snaps = busybox_store.snapshots_dir / "containers"
    assert not snaps.exists() or not list(snaps.iterdir()), "a writable layer was left behind"


def _image(store, name: str, tar: bytes, **config) -> None:
    from imgtool.store import rootfs

    rootfs.import_rootfs(store, io.BytesIO(tar), [name], "rootfs.tar", config=ContainerConfig(env=PATH_ENV, **config))


@pytest.fixture
def images(cstore, busybox_rootfs):
    """busybox variants: `exposed` (EXPOSE 80, 8080), `fifo-passwd` (/etc/passwd a FIFO),
    `dev-passwd` (a char device), `huge-passwd` (8 MiB), `stopsig` (STOPSIGNAL SIGUSR1)."""
    base = busybox_rootfs.read_bytes()

    def variant(passwd: tarfile.TarInfo | None, data: bytes = b"") -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=io.BytesIO(base)) as src, tarfile.open(fileobj=out, mode="w") as dst:
            for m in src:
                if m.name.lstrip("./") == "etc/passwd" and passwd is not None:
                    continue
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
            if passwd is not None:
                dst.addfile(passwd, io.BytesIO(data) if passwd.isfile() else None)
        return out.getvalue()

    def entry(kind: bytes, size: int = 0, dev: tuple[int, int] = (0, 0)) -> tarfile.TarInfo:
        info = tarfile.TarInfo("etc/passwd")
        info.type, info.size, info.mode = kind, size, 0o644
        info.devmajor, info.devminor = dev
        return info

    _image(cstore, "exposed:latest", base, cmd=("sh",), exposed_ports={"80/tcp": {}, "8080/tcp": {}})
    _image(cstore, "fifo-passwd:latest", variant(entry(tarfile.FIFOTYPE)), cmd=("echo", "ran"))
    _image(cstore, "dev-passwd:latest", variant(entry(tarfile.CHRTYPE, dev=(1, 5))), cmd=("echo", "ran"))
    huge = b"root:x:0:0:root:/root:/bin/sh\n" + b"#" * (8 << 20) + b"\n"
    _image(cstore, "huge-passwd:latest", variant(entry(tarfile.REGTYPE, len(huge)), huge), cmd=("echo", "ran"))
    _image(cstore, "stopsig:latest", base, cmd=("sh",), stop_signal="SIGUSR1")
    return cstore
