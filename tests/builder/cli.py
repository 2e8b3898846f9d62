"""The imgtool CLI as the builder tests run it: a subprocess on an explicit store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def imgtool_cmd(*args, root: Path, timeout: float = 600, check: bool = True,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m imgtool ARGS` from this checkout on the store at `root`; with check, a failure
    raises with the tail of both outputs (text)."""
    full_env = {**os.environ, "IMGTOOL_ROOT": str(root), "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "imgtool", *map(str, args)], capture_output=True,
                          env=full_env, timeout=timeout, text=True, errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"imgtool {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc
