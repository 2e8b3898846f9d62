"""Real clients against `python -m registry serve` on 127.0.0.1: skopeo, containerd (ctr), podman.

The image is the shared `busybox_layout` fixture (an OCI layout made by `imgtool import`), so what
runs in containerd and podman is exactly what skopeo pushed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install {' '.join(missing)})")


def run(*cmd: str, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def layout_digests(layout: Path) -> tuple[str, set[str]]:
    """(manifest digest, every blob digest it references) of the single image in an OCI layout."""
    index = json.loads((layout / "index.json").read_text())
    [desc] = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") in ("busybox", "latest", None)][:1]
    manifest = json.loads((layout / "blobs" / Path(desc["digest"].replace(":", "/"))).read_bytes())
    return desc["digest"], {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}


@pytest.fixture
def pushed_busybox(busybox_layout, spawn, tmp_path):
    """A registry subprocess holding busybox:latest, pushed by skopeo from the shared layout."""
    _need("skopeo")
    reg = spawn(tmp_path / "regroot")
    host = reg.url.removeprefix("http://")
    run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{busybox_layout}:busybox", f"docker://{host}/library/busybox:latest")
    return reg, host, busybox_layout


def test_skopeo_roundtrip_keeps_every_digest(pushed_busybox, tmp_path):
    reg, host, layout = pushed_busybox
    out = tmp_path / "out"
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/library/busybox:latest", f"oci:{out}:busybox")
    assert layout_digests(out) == layout_digests(layout)
    inspect = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{host}/library/busybox:latest").stdout)
    assert inspect["schemaVersion"] == 2


def test_skopeo_copy_between_repositories_mounts(pushed_busybox, tmp_path):
    reg, host, layout = pushed_busybox
    run("skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        f"docker://{host}/library/busybox:latest", f"docker://{host}/copies/busybox:v1")
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/copies/busybox").stdout)
    assert tags["Tags"] == ["v1"]


@pytest.fixture
def containerd(tmp_path):
    """A private containerd (no CRI) on a socket under tmp_path."""
    _need("containerd", "ctr", "runc")
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    base = Path(f"/tmp/ctrd-{os.getpid()}-{tmp_path.name}"[:60])  # unix socket paths are short
    base.mkdir(parents=True, exist_ok=True)
    config = base / "config.toml"
    config.write_text('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
    address = base / "c.sock"
    log = open(base / "log", "w")
    proc = subprocess.Popen(
        ["containerd", "--config", str(config), "--root", str(base / "root"), "--state", str(base / "state"),
         "--address", str(address)], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if address.exists() and subprocess.run(["ctr", "--address", str(address), "version"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"containerd did not start: {(base / 'log').read_text()[-2000:]}")
    yield str(address)
    proc.terminate()
    proc.wait(30)
    subprocess.run(["umount", "-R", str(base)], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_containerd_pulls_and_runs(pushed_busybox, containerd):
    reg, host, _ = pushed_busybox
    ctr = ["ctr", "--address", containerd, "--namespace", "imgtool-test"]
    ref = f"{host}/library/busybox:latest"
    run(*ctr, "images", "pull", "--plain-http", "--snapshotter", "native", ref)
    out = run(*ctr, "run", "--rm", "--snapshotter", "native", ref, "imgtool-reg-test", "/bin/sh", "-c", "echo hello-from-registry")
    assert out.stdout.strip() == "hello-from-registry"


@pytest.fixture
def podman(tmp_path):
    """podman with private storage; the runroot lives in a short /tmp dir (podman caps it at 50 chars)."""
    _need("podman")
    runroot = Path(tempfile.mkdtemp(prefix="prun-"))
    yield ["podman", "--root", str(tmp_path / "proot"), "--runroot", str(runroot),
           "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.slow
def test_podman_pulls_and_runs(pushed_busybox, podman):
    reg, host, _ = pushed_busybox
    ref = f"{host}/library/busybox:latest"
    run(*podman, "pull", "--tls-verify=false", ref)
    # this sandbox forbids raising RLIMIT_NOFILE/NPROC (podman's defaults) and runs hybrid cgroups,
    # which crun refuses: use runc with limits under the current ones
    _need("runc")
    out = run(*podman, "run", "--rm", "--network", "none", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
              "--ulimit", "nproc=1024:1024", ref, "/bin/sh", "-c", "echo hello-from-podman")
    assert out.stdout.strip() == "hello-from-podman"
