"""Six commands racing on one store (load, import, tag, rmi, prune, save), as a hostile run found.

Each loop is its own process calling the real CLI in-process ~50 times; afterwards index.json must
be valid, every entry must resolve, and every blob a name reaches must exist and match its digest.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from imgtool.store import Store, layout
from imgtool.store.blobs import verify_file

ROUNDS = 50
SPAN = 8.0  # seconds each loop's rounds are spread over, so that all six overlap throughout

# One loop: run `imgtool ARGS` ROUNDS times in this process (the CLI's own functions, not a copy);
# the one expected refusal is a name another loop just removed; any other error is a bug.
_LOOP = r"""
import re, sys, time, traceback
from imgtool.cli.main import app
from imgtool.errors import NotFoundError
rounds, workdir, kind, start, span = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
def args(i):
    return {
        "import": ["import", f"{workdir}/rootfs-{i % 5}.tar", "-t", "imp:latest"],
        "load": ["load", "-i", f"{workdir}/archive.tar"],
        "tag": ["tag", "imp:latest", f"tagged:{i % 3}"],
        "rmi": ["rmi", "imp:latest" if i % 2 == 0 else f"tagged:{i % 3}"],
        "prune": ["prune"],
        "save": ["save", "imp:latest" if i % 2 else f"tagged:{i % 3}", "-o", f"{workdir}/saved.tar"],
    }[kind]
ok = refused = 0
for i in range(rounds):
    time.sleep(max(0.0, start + i * span / rounds - time.time()))  # the loops spread over one span
    try:
        app(args(i), standalone_mode=False)
        ok += 1
    except NotFoundError as exc:
        if not re.match(r"^image '[^']*' not found", str(exc)):
            sys.exit(f"{kind} round {i}: {exc}")
        refused += 1
    except SystemExit as exc:
        if exc.code not in (0, None, 1):
            sys.exit(f"{kind} round {i}: exit {exc.code}")
    except BaseException:
        traceback.print_exc()
        sys.exit(f"{kind} round {i}: unexpected exception")
print(f"{kind}: {ok} ok, {refused} refused", file=sys.stderr)
"""


def _rootfs(path: Path, n: int) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in (("etc/hostname", b"racer\n"), (f"data/{n}", os.urandom(256 << 10))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def check_store(root: Path) -> None:
    """index.json valid, every entry resolves, every blob a name reaches exists and verifies."""
    store = Store.open(root)
    layout.read_index(root)  # parses and validates
    for entry in store.images():
        image = store.load(entry.descriptor)
        assert [layer.diff_id for layer in image.layers] == list(image.config.diff_ids)
    for digest in store.reachable():
        verify_file(store.blob_path(digest), digest)


@pytest.mark.slow
def test_six_racing_loops_leave_a_consistent_store(store_root, tmp_path, imgtool):
    for n in range(5):
        _rootfs(tmp_path / f"rootfs-{n}.tar", n)
    seed = tmp_path / "seed"
    env = {"IMGTOOL_ROOT": str(seed)}
    imgtool("import", str(tmp_path / "rootfs-0.tar"), "-t", "archived:v1", env=env, check=True)
    imgtool("save", "archived:v1", "-o", str(tmp_path / "archive.tar"), env=env, check=True)

    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", _LOOP, str(ROUNDS), str(tmp_path), kind, str(start), str(SPAN)],
                              stderr=subprocess.PIPE, text=True)
             for kind in ("load", "import", "tag", "rmi", "prune", "save")]
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            failures.append(err.strip().splitlines()[-12:])
    assert not failures, json.dumps(failures, indent=1)
    check_store(store_root)
    # and the survivors still work end to end
    for entry in Store.open(store_root).images():
        if entry.name:
            imgtool("save", entry.name, "-o", str(tmp_path / "final.tar"), check=True)
