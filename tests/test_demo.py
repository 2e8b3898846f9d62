"""The README's first command runs the main job end to end: this keeps it working."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import REPO


@pytest.mark.interop
def test_demo_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "IMGTOOL_ROOT"}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(["bash", str(REPO / "scripts/demo.sh")], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "busybox      latest" in out
    assert out.count("Loaded image: busybox:latest") == 2
    assert "pushed and pulled: sha256:" in out
    assert "hello from PID 1 on host" in out
    assert "exits 137 (137 = OOM-killed)" in out
    assert not any(tmp_path.iterdir()), "the demo left files behind"
