"""Running busybox for real: namespaces, cgroup limits, exit codes, cleanup, runtime cases R1-R10."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from imgtool.oci.config import ContainerConfig, ImageConfig
from imgtool.runtime import container as ctr
from imgtool.runtime.bundle import Overrides
from imgtool.runtime.cgroups import Resources
from imgtool.runtime.container import RuntimeError_
from .harness import image_layers, run_layers
from imgtool.runtime.tty import Streams

from .layers import d, layer_of, reg, sym, tar_bytes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces and cgroups")


def _running(name: str):
    """The running container called `name`, waiting up to ~5 s for it to start."""
    for _ in range(500):
        found = [c for c in ctr.list_containers() if c.name == name and c.status() == "running"]
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"container {name} never ran")


def run(store, *args, extra_layers=(), config=None, name=None, **ov):
    """Run busybox (plus extra tar layers) with Overrides(**ov); returns (ExitStatus, stdout)."""
    base_config, layers = image_layers(store, "busybox")
    for entries in extra_layers:
        blob = tar_bytes(entries)
        layers.append(layer_of(blob))
    r, w = os.pipe()
    out = []
    reader = threading.Thread(target=lambda: out.append(os.fdopen(r, "rb").read()))
    reader.start()
    try:
        status = run_layers(store, config or base_config, layers, Overrides(args=list(args) or None, **ov),
                            streams=Streams((os.open(os.devnull, os.O_RDONLY), w, w)), name=name)
    finally:
        os.close(w)
        reader.join()
    return status.status if hasattr(status, "status") else status, out[0].decode()


def test_pid1_hostname_exit_code(clean_host):
    status, out = run(clean_host, "sh", "-c", "echo $$; hostname; exit 3", hostname="boxy")
    assert status.code == 3 and out.split() == ["1", "boxy"]


def test_command_not_found_is_127(clean_host):
    with pytest.raises(RuntimeError_) as err:
        run(clean_host, "no-such-command")
    assert err.value.exit_code == 127


def test_memory_limit_oom_kill(clean_host):
    status, _ = run(clean_host, "dd", "if=/dev/zero", "bs=64M", "count=1", "of=/dev/null",
                    resources=Resources(memory=32 << 20, memory_swap=64 << 20))
    assert status.code == 137 and status.oom_killed


def test_memory_limit_fits(clean_host):
    status, _ = run(clean_host, "dd", "if=/dev/zero", "bs=16M", "count=1", "of=/dev/null",
                    resources=Resources(memory=32 << 20, memory_swap=64 << 20))
    assert status.code == 0 and not status.oom_killed


def test_pids_limit_stops_fork_bomb(clean_host):
    seen: list[int] = []
    refused: list[int] = []

    def watch_then_kill():
        try:
            bomb = _running("bomb")
            events = Path(bomb.cgroup.dirs.get("pids", bomb.cgroup.dirs.get(""))) / "pids.events"
            for _ in range(500):  # sample until forks have been refused by the limit
                seen.append(len(bomb.cgroup.pids()))
                refused.append(int(events.read_text().split()[1]))
                if refused[-1] > 100:
                    break
                time.sleep(0.01)
        finally:
            for c in ctr.list_containers():
                if c.name == "bomb":
                    os.kill(c.pid, signal.SIGKILL)

    # PID 1 forks once, before the limit can bite, then spins without forking: the bomb runs in a
    # subshell, so a refused fork can only end bomb processes, never the container before the
    # watcher has sampled it (an ash that cannot fork exits 2, which once raced the watcher here)
    watcher = threading.Thread(target=watch_then_kill)
    watcher.start()
    status, _ = run(clean_host, "sh", "-c", "(b() { b | b & }; b) & while :; do :; done",
                    resources=Resources(pids=20), name="bomb")
    watcher.join()
    assert status.code == 137 and max(seen) <= 20 and refused[-1] > 0
    assert subprocess.run(["true"]).returncode == 0  # the host can still fork


@pytest.mark.slow
def test_cpu_quota_half_a_core(clean_host):
    # PID 1 ignores SIGTERM, so the loop runs under `timeout` as a child of an outer shell
    status, _ = run(clean_host, "sh", "-c", "timeout 2 sh -c 'while :; do :; done'; true",
                    resources=Resources(cpu_quota=50000, cpu_period=100000))
    share = status.cpu_ns / 2e9
    assert 0.25 < share < 0.75, share


def test_sigkill_of_init_still_cleans_up(clean_host):
    killer = threading.Thread(target=lambda: os.kill(_running("victim").pid, signal.SIGKILL))
    killer.start()
    status, _ = run(clean_host, "sleep", "60", name="victim")
    killer.join()
    assert status.code == 137 and status.signal == signal.SIGKILL


# --- runtime-side hostile cases ----------------------------------------------------------------
def test_r1_only_stdio_fds(clean_host):
    _, out = run(clean_host, "ls", "/proc/self/fd")
    assert sorted(out.split()) == ["0", "1", "2", "3"]  # 3 is ls's own directory fd


def test_r2_cwd_through_proc_fd_rejected(clean_host):
    with pytest.raises(RuntimeError_):
        run(clean_host, "pwd", workdir="/proc/self/fd/7")


def test_r3_init_not_dumpable_and_no_new_privs(clean_host):
    _, out = run(clean_host, "grep", "NoNewPrivs", "/proc/self/status")
    assert out.split() == ["NoNewPrivs:", "1"]


def test_r4_passwd_symlink_stays_in_root(clean_host):
    hostile = [d("etc"), reg("etc/realpw", b"app:x:4242:4343::/home/app:/bin/sh\n"),
               sym("etc/passwd", "/etc/realpw"), sym("etc/group", "/etc/shadow")]
    status, out = run(clean_host, "id", "-u", extra_layers=[hostile], user="app")
    assert status.code == 0 and out.strip() == "4242"
    with pytest.raises(RuntimeError_, match="unable to find user root2"):
        run(clean_host, "id", extra_layers=[hostile], user="root2")


def test_r5_dev_symlink_and_fake_null(clean_host, tmp_path):
    host = tmp_path / "hostdev"
    host.mkdir()
    status, out = run(clean_host, "sh", "-c", "ls -l /dev/null", extra_layers=[[sym("dev", str(host))]])
    assert status.code == 0 and out.startswith("c")
    assert list(host.iterdir()) == []  # nothing created on the host path the symlink names


def test_r6_mount_destination_symlinks_stay_in_root(clean_host, tmp_path):
    host = tmp_path / "hostproc"
    host.mkdir()
    status, out = run(clean_host, "sh", "-c", "test -e /proc/self/status && echo 1", extra_layers=[[sym("proc", str(host))]])
    assert status.code == 0 and out.strip() == "1" and list(host.iterdir()) == []
    with pytest.raises(RuntimeError_, match="resolves to the container's root"):
        run(clean_host, "true", extra_layers=[[sym("sys", "/../../..")]])


def test_r7_volume_path_is_in_root(clean_host):
    base, _ = image_layers(clean_host, "busybox")
    config = ImageConfig(base.architecture, base.os, base.diff_ids,
                         ContainerConfig(env=base.config.env, volumes={"/../../etc/vol": {}}))
    status, out = run(clean_host, "sh", "-c", "mount | grep -c /etc/vol", config=config)
    assert out.strip() == "1" and not Path("/etc/vol").exists()


def test_r8_stub_mount_points_not_left_in_upper(busybox_store):
    base, layers = image_layers(busybox_store, "busybox")
    result = run_layers(busybox_store, base, layers, Overrides(args=["touch", "/made"]), keep_upper=True)
    try:
        assert sorted(os.listdir(result.upper)) == ["made"]
    finally:
        result.release()
    assert not list((busybox_store.snapshots_dir / "containers").iterdir())


def test_r9_labels_are_only_annotations(clean_host, tmp_path):
    base, _ = image_layers(clean_host, "busybox")
    marker = tmp_path / "pwned"
    config = ImageConfig(base.architecture, base.os, base.diff_ids,
                         ContainerConfig(env=base.config.env, labels={"logger": f"binary://touch {marker}"}))
    status, _ = run(clean_host, "true", config=config)
    assert status.code == 0 and not marker.exists()


def test_r10_sub_cgroup_does_not_block_delete(clean_host):
    status, _ = run(clean_host, "true")
    assert status.code == 0  # clean_host asserts the cgroup tree is gone


def test_network_none_has_only_loopback(clean_host):
    _, out = run(clean_host, "ls", "/sys/class/net", network="none")
    assert out.split() == ["lo"]


def test_read_only_root(clean_host):
    status, out = run(clean_host, "sh", "-c", "touch /x 2>&1; echo $?", read_only=True)
    assert out.strip().splitlines()[-1] != "0"


def test_runc_masked_and_read_only_paths(clean_host):
    # kernels differ in which masked files exist: judge only those the host really has
    assert Path("/proc/timer_list").read_bytes() and any(Path("/sys/firmware").iterdir())
    script = (
        "wc -c < /proc/timer_list; "                               # masked by /dev/null: empty
        "ls -A /sys/firmware | wc -l; "                            # masked dir: an empty tmpfs
        "touch /sys/firmware/x 2>/dev/null; echo firmware-write=$?; "   # ... and read-only
        "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null; echo sysrq=$?; "
        "echo h > /proc/sysrq-trigger 2>/dev/null; echo trigger=$?; "
        "cat /proc/sys/kernel/hostname"                             # read-only, still readable
    )
    status, out = run(clean_host, "sh", "-c", script, hostname="masked")
    lines = out.split()
    assert status.code == 0, out
    assert lines[:2] == ["0", "0"], out
    assert {"firmware-write=1", "sysrq=1", "trigger=1"} <= set(lines), out
    assert lines[-1] == "masked"


@pytest.mark.timeout(120)
def test_spawning_from_a_busy_multithreaded_process(clean_host):
    """Containers start while other threads hold the GIL, allocate and take locks (a test runner,
    the builder's compression pool): a fork that skips glibc's and CPython's fork handling can
    leave the child waiting forever on a lock a vanished thread held."""
    stop = threading.Event()

    def churn():
        import json as _json
        import zlib as _zlib
        data = os.urandom(1 << 18)
        while not stop.is_set():
            _zlib.compress(data, 1)  # allocates in C with the GIL released
            _json.dumps([{"k": os.urandom(64).hex()} for _ in range(200)])
            threading.Lock().acquire()

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(6)]
    for w in workers:
        w.start()
    try:
        for i in range(30):
            status, out = run(clean_host, "echo", f"run-{i}")
            assert status.code == 0 and out.strip() == f"run-{i}"
    finally:
        stop.set()
        for w in workers:
            w.join()
