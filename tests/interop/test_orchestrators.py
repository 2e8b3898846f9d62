"""imgtool-runc under real orchestrators: containerd's runc shim (through `ctr --runc-binary`) and
podman (through conmon, `--runtime`), pulling busybox from imgtool's own registry.

The binary is the -IS launcher for this checkout (`imgtool.runtime.launcher`), i.e. what
`command -v imgtool-runc` runs, so the test exercises this tree's code rather than whatever copy
of imgtool happens to be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from imgtool.runtime import launcher
from tests.registry.conftest import spawn  # noqa: F401  (fixture used by pushed_busybox)
from tests.registry.test_interop import containerd, podman, pushed_busybox, run  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.interop, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")]


@pytest.fixture
def runc_bin(tmp_path) -> str:
    return launcher.write(str(tmp_path / "imgtool-runc"))


def test_containerd_drives_imgtool_runc(pushed_busybox, containerd, runc_bin, tmp_path):  # noqa: F811
    _, host, _ = pushed_busybox
    ref = f"{host}/library/busybox:latest"
    ctr = ["ctr", "--address", containerd, "--namespace", "imgtool-runc"]
    rt = ["--snapshotter", "native", "--runc-binary", runc_bin, "--runc-root", str(tmp_path / "runc-root")]
    run(*ctr, "images", "pull", "--plain-http", "--snapshotter", "native", ref)

    assert run(*ctr, "run", "--rm", *rt, ref, "hello1", "echo", "hello").stdout == "hello\n"

    cid = f"d-{uuid.uuid4().hex[:8]}"
    run(*ctr, "run", "-d", *rt, ref, cid, "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")
    try:
        assert run(*ctr, "task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo in").stdout == "in\n"
        ps = run(*ctr, "task", "ps", cid).stdout.splitlines()
        assert ps[0].split()[0] == "PID" and len(ps) >= 2
        run(*ctr, "task", "pause", cid)
        assert "PAUSED" in run(*ctr, "task", "ls").stdout
        run(*ctr, "task", "resume", cid)
        assert "PAUSED" not in run(*ctr, "task", "ls").stdout
        metrics = run(*ctr, "task", "metrics", cid).stdout
        assert "memory.usage" in metrics and ("cpuacct.usage" in metrics or "cpu.usage_usec" in metrics)
        run(*ctr, "task", "kill", cid)
        deadline = time.monotonic() + 60
        while "STOPPED" not in run(*ctr, "task", "ls").stdout:
            assert time.monotonic() < deadline, "the task did not stop after SIGTERM"
            time.sleep(0.1)
        assert "exit code 3" in run(*ctr, "task", "delete", cid).stderr  # the TERM trap's status reached containerd
    finally:
        subprocess.run([*ctr, "task", "delete", "--force", cid], capture_output=True, timeout=60)
        subprocess.run([*ctr, "containers", "rm", cid], capture_output=True, timeout=60)

    proc = subprocess.run([*ctr, "run", "--rm", *rt, "--memory-limit", str(32 << 20), ref, "oom1",
                           "sh", "-c", "x=a; while :; do x=$x$x; done"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 137, (proc.stdout, proc.stderr)


def test_podman_drives_imgtool_runc(pushed_busybox, podman, runc_bin):  # noqa: F811
    _, host, _ = pushed_busybox
    ref = f"{host}/library/busybox:latest"
    run(*podman, "pull", "--tls-verify=false", ref)
    # this sandbox forbids raising RLIMIT_NOFILE/NPROC above the current hard limits (podman's defaults)
    opts = ["--runtime", runc_bin, "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
    assert run(*podman, "run", "--rm", *opts, ref, "echo", "hello").stdout == "hello\n"
    name = f"p-{uuid.uuid4().hex[:8]}"
    run(*podman, "run", "-d", "--name", name, *opts, ref, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    try:
        assert run(*podman, "exec", name, "sh", "-c", "echo in; grep Seccomp: /proc/self/status").stdout == \
            "in\nSeccomp:\t2\n"  # podman's default seccomp profile is applied
        run(*podman, "stop", "-t", "10", name, timeout=120)
        run(*podman, "rm", name)
    finally:
        subprocess.run([*podman, "rm", "-f", name], capture_output=True, timeout=120)


def test_runc_binary_is_where_callers_look(runc_bin):
    """`--runc-binary $(command -v imgtool-runc)`: the installed console script, when installed,
    answers like the launcher (both run runc.main)."""
    installed = shutil.which("imgtool-runc")
    if installed is None:
        pytest.skip("imgtool-runc is not on PATH (pip install -e . puts it next to python3; pyenv needs a rehash)")
    for binary in (installed, runc_bin):
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout
        assert out.startswith("runc version ")
