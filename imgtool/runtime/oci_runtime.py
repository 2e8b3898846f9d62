"""`--runtime runc|crun`: hand the bundle imgtool unpacks to an installed OCI runtime instead.

crun 1.8 refuses a hybrid cgroup layout (v1 controllers plus an empty /sys/fs/cgroup/unified), so on
such hosts it runs in a private mount namespace with that mount detached, as the project brief says.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from imgtool.store import Store

from .bundle import Overrides
from .container import RuntimeError_
from .unpack import unpack_image

RUNTIMES = ("runc", "crun")


def command(runtime: str, *args: str) -> list[str]:
    """argv for invoking `runtime` with `args`, wrapped for crun on hybrid cgroup hosts."""
    if runtime not in RUNTIMES:
        raise RuntimeError_(f"unknown runtime {runtime!r} (runc or crun)")
    exe = shutil.which(runtime)
    if exe is None:
        raise RuntimeError_(f"{runtime} is not installed", 127)
    argv = [exe, *args]
    if runtime == "crun" and Path("/sys/fs/cgroup/unified").is_mount():
        quoted = " ".join(f"'{a}'" for a in argv)
        return ["unshare", "-m", "sh", "-c", f"umount /sys/fs/cgroup/unified && exec {quoted}"]
    return argv


def run_with(runtime: str, store: Store, ref: str, ov: Overrides) -> int:
    """Unpack `ref` into a temporary bundle and `<runtime> run` it; returns the exit code."""
    with tempfile.TemporaryDirectory(dir=store.tmp_dir) as tmp:
        bundle = Path(tmp) / "bundle"
        unpack_image(store, ref, bundle, ov)
        proc = subprocess.run(command(runtime, "run", "--bundle", str(bundle), f"imgtool-{secrets.token_hex(8)}"))
        return proc.returncode
