"""The README's first command runs the main job end to end (issue 15): this keeps it working.

Each step's observable result is checked in the demo's own output: the built images are listed,
the pulled digests equal the pushed ones, the leaked key is reported in a deleted layer, the app's
page comes through the published port, and afterwards nothing is left running or mounted.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO


def _mounts() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


def _cgroups() -> set[Path]:
    return {p for h in Path("/sys/fs/cgroup").iterdir() if h.is_dir() for p in h.glob("imgtool/*") if p.is_dir()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.interop
def test_demo_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "IMGTOOL_ROOT"}
    env.update(TMPDIR=str(tmp_path), DEMO_PORT=str(_free_port()))
    mounts, cgroups = _mounts(), _cgroups()
    proc = subprocess.run(["bash", str(REPO / "scripts/demo.sh")], capture_output=True, text=True,
                          env=env, timeout=1500)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:] + proc.stderr[-4000:]
    assert re.search(r"^127\.0\.0\.1:\d+/kuard\s+v1\s", out, re.M), "the built app is not listed"
    assert re.search(r"^127\.0\.0\.1:\d+/server\s+v1\s", out, re.M), "the multi-stage image is not listed"
    assert out.count("pulled digest equals pushed digest: sha256:") == 2
    assert re.search(r"deleted", out[out.index("imgtool finds it in the deleted layer"):]), "no deleted finding"
    assert f"GET http://127.0.0.1:{env['DEMO_PORT']}/ -> Hello World!" in out
    assert "containers left: 0" in out and "images left: 0" in out
    assert _mounts() <= mounts, f"mounts left behind: {_mounts() - mounts}"
    assert _cgroups() <= cgroups, f"cgroups left behind: {_cgroups() - cgroups}"
    assert not any(tmp_path.iterdir()), "the demo left files behind"
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert not leftovers.strip(), f"processes left running: {leftovers}"
