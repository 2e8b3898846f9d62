"""Interop: bundles from `imgtool unpack` run under runc and crun; the rootfs equals `umoci unpack`;
and a runc-style caller drives create/start/state/kill/delete."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtool.runtime import container as ctr
from imgtool.runtime import state as rt_state
from imgtool.runtime import lifecycle
from imgtool.runtime.oci_runtime import command
from imgtool.runtime.unpack import unpack_image

from .layers import tree

pytestmark = [pytest.mark.interop, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _bundle(store, tmp_path, args):
    bundle = tmp_path / "bundle"
    unpack_image(store, "busybox", bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = args
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_unpacked_bundle_runs_under(runtime, busybox_store, tmp_path):
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} not installed")
    bundle = _bundle(busybox_store, tmp_path, ["sh", "-c", "echo $$ $(hostname); exit 7"])
    proc = subprocess.run(command(runtime, "run", "--bundle", str(bundle), f"it-{runtime}-{os.getpid()}"),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.split() == ["1", "imgtool"]


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_run_with_runtime_gets_the_default_seccomp_profile(runtime, busybox_store, imgtool):
    # the profile is plain runtime-spec (ORed same-index comparisons, errnoRet) that runc and crun
    # compile themselves; `unpack` bundles carry none, as runc's own spec
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} not installed")
    script = "grep ^Seccomp: /proc/self/status; unshare -U true && echo userns-ok"
    r = imgtool("run", "--runtime", runtime, "--network", "none", "busybox", "sh", "-c", script)
    assert r.stdout == "Seccomp:\t2\n" and "Operation not permitted" in r.stderr, r
    r = imgtool("run", "--runtime", runtime, "--network", "none", "--security-opt", "seccomp=unconfined",
                "busybox", "sh", "-c", script)
    assert r.returncode == 0 and r.stdout == "Seccomp:\t0\nuserns-ok\n", r


def test_rootfs_equals_umoci_unpack(busybox_store, tmp_path):
    if shutil.which("umoci") is None:
        pytest.skip("umoci not installed")
    ours = tmp_path / "ours"
    unpack_image(busybox_store, "busybox", ours)
    theirs = tmp_path / "theirs"
    subprocess.run(["umoci", "unpack", "--image", f"{busybox_store.path}:busybox", str(theirs)], check=True,
                   capture_output=True)
    a, b = tree(ours / "rootfs"), tree(theirs / "rootfs")
    assert a.keys() == b.keys()
    diffs = {k: (a[k], b[k]) for k in a if a[k] != b[k] and k != "."}
    assert not diffs


def test_runc_style_lifecycle(busybox_store, tmp_path):
    bundle = _bundle(busybox_store, tmp_path, ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"])
    pid_file = tmp_path / "pid"
    cid = f"lifecycle-{os.getpid()}"
    lifecycle.create(cid, bundle, pid_file)
    try:
        c = ctr.Container.load(cid)
        assert c.state()["status"] == "created" and int(pid_file.read_text()) == c.pid
        state = json.loads(subprocess.run([sys.executable, "-m", "imgtool", "runtime", "state", cid],
                                          capture_output=True, text=True, check=True).stdout)
        assert state["status"] == "created" and state["bundle"] == str(bundle.resolve())
        subprocess.run([sys.executable, "-m", "imgtool", "runtime", "start", cid], check=True)
        assert c.status() == "running"
        with pytest.raises(ctr.RuntimeError_, match="running"):
            lifecycle.delete(cid)
        subprocess.run([sys.executable, "-m", "imgtool", "runtime", "kill", cid, "KILL"], check=True)
        for _ in range(300):
            if c.status() == "stopped":
                break
            time.sleep(0.01)
        assert c.status() == "stopped"
    finally:
        subprocess.run([sys.executable, "-m", "imgtool", "runtime", "delete", "--force", cid], check=True)
    assert not os.path.exists(f"{rt_state.STATE_ROOT}/{cid}")
    assert not any(p.name == cid for h in Path("/sys/fs/cgroup").iterdir() for p in h.rglob(cid))


def test_cli_run_exit_codes_and_oom(busybox_store, imgtool):
    r = imgtool("run", "--memory", "32m", "busybox", "dd", "if=/dev/zero", "bs=64M", "count=1", "of=/dev/null")
    assert r.returncode == 137 and "OOMKilled" in r.stderr
    r = imgtool("run", "--rm", "busybox", "sh", "-c", "exit 42")
    assert r.returncode == 42
    r = imgtool("run", "busybox", "nonexistent-binary")
    assert r.returncode == 127 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = imgtool("run", "--memory", "lots", "busybox", "true")
    assert r.returncode != 0 and "invalid size" in r.stderr


def test_unpack_refuses_non_empty_target(busybox_store, imgtool, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    r = imgtool("unpack", "busybox", str(tmp_path / "full"))
    assert r.returncode == 1 and "not an empty directory" in r.stderr
