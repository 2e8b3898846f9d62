"""docs/registry.md "Deployment", followed literally: every `<!-- deploy:NAME -->` block of the page
runs as written (bash), with CONF a temporary directory, A and B two loopback ports, moto as S3,
skopeo as the client and `imgtool` this checkout's CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from .conftest import free_port
from .test_interop import layout_digests

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry.md"
pytestmark = [pytest.mark.slow, pytest.mark.interop]


def _blocks() -> dict[str, str]:
    found = re.findall(r"<!-- deploy:(\S+) -->\n```text\n(.*?)```", DOC.read_text(), re.S)
    return dict(found)


def test_deployment_page_blocks_are_all_there():
    assert list(_blocks()) == ["setup", "config", "serve-a", "serve-b", "push", "pull", "gc", "metrics"]


@pytest.fixture
def env(tmp_path, moto, busybox_layout):
    if shutil.which("skopeo") is None or shutil.which("curl") is None:
        pytest.skip("the deployment page uses skopeo and curl (apt-get install skopeo curl)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "imgtool"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m imgtool "$@"\n')
    shim.chmod(0o755)
    root = str(Path(__file__).resolve().parents[2])
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": root + (":" + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
        "CONF": str(tmp_path / "conf"),
        "A": f"127.0.0.1:{free_port()}",
        "B": f"127.0.0.1:{free_port()}",
        "BUCKET": moto.bucket(),
        "S3_ENDPOINT": moto.endpoint,
        "PASSWORD": uuid.uuid4().hex,
        "IMAGE": f"{busybox_layout}:busybox",
        "OUT": f"{tmp_path / 'pulled'}:busybox",
    }


def _run(block: str, env: dict) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{block}\n-> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait(url: str, cert: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if requests.get(url, verify=cert, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_two_instances_over_one_bucket_as_documented(env, busybox_layout, tmp_path):
    blocks = _blocks()
    _run(blocks["setup"], env)
    _run(blocks["config"], env)
    cert = f"{env['CONF']}/cert.pem"
    servers = []
    try:
        for name, addr in (("serve-a", env["A"]), ("serve-b", env["B"])):
            proc = subprocess.Popen(["bash", "-c", "exec " + blocks[name].strip()], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            servers.append(proc)
            _wait(f"https://{addr}/readyz", cert, proc)
        _run(blocks["push"], env)
        _run(blocks["pull"], env)
        pulled = Path(env["OUT"].rsplit(":", 1)[0])
        assert layout_digests(pulled) == layout_digests(busybox_layout)
        _run(blocks["gc"], env)  # a third process, over the same bucket
        shutil.rmtree(pulled)
        _run(blocks["pull"].replace('"$B"', '"$A"'), env)  # still whole after GC, through the other one
        assert layout_digests(pulled) == layout_digests(busybox_layout)
        metrics = _run(blocks["metrics"], env)
        assert "registry_http_requests_total" in metrics and "ready" in metrics
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)
