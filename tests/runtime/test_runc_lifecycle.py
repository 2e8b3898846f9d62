"""runc's documented lifecycle details that its own integration tests (list, run, kill, delete)
check: a caller's missing --root, `run --keep`, tmpfs modes, SIGKILL without a PID namespace, and
the `spec` template's namespaces. Written from runc's man pages and runtime behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from imgtool.runtime.cgroups import is_unified

from .runc_fixtures import SLEEPER, bundle, cid, runc, runc_bin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")


def _gone(pid: int) -> bool:
    """Dead: no /proc entry, or a zombie (this VM's PID 1 does not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pids, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(p) for p in pids):
        assert time.monotonic() < deadline, f"still alive: {[p for p in pids if not _gone(p)]}"
        time.sleep(0.02)


def test_list_fails_for_a_missing_root_the_caller_named(runc_bin, tmp_path):
    proc = subprocess.run([runc_bin, "--root", str(tmp_path / "missing"), "list"], capture_output=True)
    assert proc.returncode == 1 and b"no such file or directory" in proc.stderr
    assert proc.stderr.count(b"\n") == 1
    # the default root (here from the environment) not existing yet only means no containers
    env = dict(os.environ, IMGTOOL_RUNTIME_ROOT=str(tmp_path / "default"))
    proc = subprocess.run([runc_bin, "list", "-q"], capture_output=True, env=env)
    assert proc.returncode == 0 and proc.stdout == b""


def test_spec_adds_a_cgroup_namespace_only_on_a_unified_host(runc, tmp_path):
    runc.ok("spec", "--bundle", tmp_path)
    kinds = [ns["type"] for ns in json.loads((tmp_path / "config.json").read_text())["linux"]["namespaces"]]
    assert kinds[:5] == ["pid", "network", "ipc", "uts", "mount"]
    assert ("cgroup" in kinds) == is_unified() and len(kinds) == len(set(kinds))


def test_run_keep_leaves_the_stopped_container_and_its_cgroup_until_delete(runc, bundle):
    c = cid()
    b = bundle(["sh", "-c", "echo kept"], edit=lambda s: s["linux"].__setitem__("cgroupsPath", f"/imgtool-test/{c}"))
    proc = runc("run", "--keep", "--bundle", b, c)
    assert proc.returncode == 0 and proc.stdout == b"kept\n"
    st = runc.state(c)
    assert st["status"] == "stopped" and st["pid"] == 0
    cgroup = json.loads((runc.root / c / "state.json").read_text())["cgroup"]["dirs"]
    assert all(os.path.isdir(d) for d in cgroup.values())
    runc.ok("delete", c)
    assert runc("state", c).returncode == 1
    assert not any(os.path.isdir(d) for d in cgroup.values())
    # without --keep nothing is left
    runc.ok("run", "--bundle", b, c)
    assert runc("state", c).returncode == 1


def test_tmpfs_without_mode_takes_the_mount_points_mode(runc, bundle, tmp_path):
    def with_tmpfs(options):
        def edit(spec):
            spec["mounts"].append({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": options})
        return edit

    b = bundle(["stat", "-c", "%a", "/mnt/t"], edit=with_tmpfs([]))
    # a directory the runtime creates: the kernel's default for a tmpfs root
    assert runc.ok("run", "--bundle", b, cid()) == "1777\n"
    os.chmod(b / "rootfs/mnt/t", 0o2710)
    assert runc.ok("run", "--bundle", b, cid()) == "2710\n"
    b = bundle(["stat", "-c", "%a", "/mnt/t"], edit=with_tmpfs(["nodev", "mode=0410"]))
    assert runc.ok("run", "--bundle", b, cid()) == "410\n"


@pytest.mark.parametrize("init_killed_first", [False, True])
def test_sigkill_without_a_pid_namespace_kills_the_whole_cgroup(runc, bundle, init_killed_first):
    def host_pid(spec):
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"]

    c = cid()
    runc.ok("run", "--detach", "--bundle", bundle(SLEEPER, edit=host_pid), c)
    init = runc.state(c)["pid"]
    for _ in range(3):
        runc.ok("exec", "--detach", c, "sleep", "1000")
    pids = json.loads(runc.ok("ps", "--format", "json", c))
    assert len(pids) >= 4  # the init, its current `sleep 0.05`, three execs
    if init_killed_first:
        os.kill(init, 9)
        _wait_gone([init])
        assert runc.state(c)["status"] == "stopped"
        # a signal other than KILL goes to the init only: gone, so "not running"
        assert b"container not running" in runc("kill", c, "TERM").stderr
    runc.ok("kill", c, "KILL")
    _wait_gone(pids)
    runc.ok("delete", c)
    # no cgroup and no init: nothing left to kill
    assert runc("kill", c, "KILL").returncode == 1


@pytest.mark.skipif(is_unified(), reason="per-controller sub-cgroups are cgroup v1's")
def test_exec_cgroup_joins_existing_sub_cgroups_of_the_container_only(runc, bundle):
    c = cid()
    runc.ok("run", "--detach", "--bundle", bundle(SLEEPER), c)
    dirs = json.loads((runc.root / c / "state.json").read_text())["cgroup"]["dirs"]
    for flag, words in (("..", b"bad sub cgroup path: .."), ("memory:../..", b"bad sub cgroup path"),
                        ("nonexistent", b"error adding pid"), ("whaaat:/", b"unknown controller whaaat")):
        proc = runc("exec", "--cgroup", flag, c, "true")
        assert proc.returncode == 255 and words in proc.stderr, (flag, proc.stderr)
    proc = runc("exec", "--cgroup", "memory:a", "--cgroup", "memory,pids:b", c, "true")
    assert proc.returncode != 0 and b"controller memory specified multiple times" in proc.stderr
    os.mkdir(f"{dirs['memory']}/submem")
    os.mkdir(f"{dirs['pids']}/subpids")
    lines = runc.ok("exec", "--cgroup", "memory:submem", "--cgroup", "pids:/subpids", c,
                    "cat", "/proc/self/cgroup").splitlines()
    by_ctrl = {line.split(":")[1]: line.split(":", 2)[2] for line in lines}
    assert by_ctrl["memory"].endswith("/submem") and by_ctrl["pids"].endswith("/subpids")
    assert not by_ctrl["cpu"].endswith(("/submem", "/subpids"))  # other controllers: the container's own
    # without --cgroup: the container's own cgroup in every hierarchy
    plain = runc.ok("exec", c, "cat", "/proc/self/cgroup")
    assert "submem" not in plain and "subpids" not in plain


def _hybrid_with_systemd_hierarchy() -> bool:
    mounts = open("/proc/self/mountinfo").read()
    return not is_unified() and " - cgroup2 " in mounts and "name=systemd" in mounts


@pytest.mark.skipif(not _hybrid_with_systemd_hierarchy(), reason="a hybrid v1 host with name=systemd")
def test_v1_container_has_its_cgroup_in_every_hierarchy_incl_systemd_and_unified(runc, bundle):
    """As runc's fs driver: the name=systemd hierarchy is joined and, on a hybrid host, the
    unified one, so every /proc/self/cgroup line (init's and exec's) names the container's path."""
    c, path = cid(), f"/imgtool-test-{os.getpid()}/ctr"
    runc.ok("run", "--detach", "--bundle", bundle(SLEEPER, lambda s: s["linux"].update(cgroupsPath=path)), c)
    for lines in (runc.ok("exec", c, "cat", "/proc/self/cgroup").splitlines(),
                  open(f"/proc/{runc.state(c)['pid']}/cgroup").read().splitlines()):
        by_ctrl = {line.split(":")[1]: line.split(":", 2)[2] for line in lines}
        assert by_ctrl["name=systemd"] == path and by_ctrl[""] == path, lines  # "" is the unified line
        assert all(p == path for p in by_ctrl.values()), lines
    runc.ok("delete", "--force", c)
    assert not os.path.exists(f"/sys/fs/cgroup/systemd{path}") and not os.path.exists(f"/sys/fs/cgroup/unified{path}")


@pytest.mark.skipif(is_unified(), reason="v1 knobs (memsw, cpu.rt_*, cpu.cfs_burst_us)")
def test_update_orders_dependent_v1_knobs_and_maps_limits_as_runc(runc, bundle):
    c = cid()
    parent = f"/sys/fs/cgroup/cpu/imgtool-rt-{c}"
    os.mkdir(parent)
    try:
        for knob, value in (("cpu.rt_period_us", "1000000"), ("cpu.rt_runtime_us", "500000")):
            with open(f"{parent}/{knob}", "w") as f:
                f.write(value)
        # an init that never forks: pids.max 1 must not end it
        b = bundle(["sleep", "1000"], edit=lambda s: s["linux"].__setitem__("cgroupsPath", f"/imgtool-rt-{c}/{c}"))
        runc.ok("run", "--detach", "--bundle", b, c)
        dirs = json.loads((runc.root / c / "state.json").read_text())["cgroup"]["dirs"]

        def value(ctrl, knob):
            with open(f"{dirs[ctrl]}/{knob}") as f:
                return f.read().strip()

        runc.ok("update", "--memory", "32M", "--memory-swap", "64M", c)
        assert (value("memory", "memory.limit_in_bytes"), value("memory", "memory.memsw.limit_in_bytes")) \
            == (str(32 << 20), str(64 << 20))
        # -1 removes the limit (and swap with it); the kernel shows its maximum
        runc.ok("update", "--memory", "-1", c)
        assert int(value("memory", "memory.limit_in_bytes")) > 1 << 60
        assert int(value("memory", "memory.memsw.limit_in_bytes")) > 1 << 60
        for given, shown in (("12345", "12345"), ("-1", "max"), ("0", "1")):
            runc.ok("update", "--pids-limit", given, c)
            assert value("pids", "pids.max") == shown
        if os.path.exists(f"{dirs['cpu']}/cpu.cfs_burst_us"):
            runc.ok("update", "--cpu-period", "900000", "--cpu-quota", "450000", "--cpu-burst", "400000", c)
            assert value("cpu", "cpu.cfs_burst_us") == "400000"
        # rt period then runtime; a smaller period the old runtime would not fit goes in second
        runc.ok("update", "--cpu-rt-period", "900001", "--cpu-rt-runtime", "400001", c)
        runc.ok("update", "--cpu-rt-period", "10000", "--cpu-rt-runtime", "3000", c)
        assert (value("cpu", "cpu.rt_period_us"), value("cpu", "cpu.rt_runtime_us")) == ("10000", "3000")
        if os.path.exists(f"{dirs['cpu']}/cpu.idle"):
            runc.ok("update", "--resources", "-", c, input=b'{"cpu": {"idle": 1}}')
            assert value("cpu", "cpu.idle") == "1"
        runc.ok("delete", "--force", c)
    finally:
        for _ in range(100):  # the removed child cgroup goes offline asynchronously
            try:
                os.rmdir(parent)
                break
            except OSError:
                time.sleep(0.05)


def _block_device() -> str | None:
    """major:minor of a whole block device (throttling takes no partitions)."""
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram")):
            with open(f"/sys/block/{name}/dev") as f:
                return f.read().strip()
    return None


@pytest.mark.skipif(_block_device() is None, reason="needs a block device")
def test_blkio_throttle_devices_at_create_and_update(runc, bundle):
    dev = _block_device()
    major, minor = map(int, dev.split(":"))
    rate = lambda r: [{"major": major, "minor": minor, "rate": r}]  # noqa: E731
    c = cid()
    b = bundle(["sleep", "1000"], edit=lambda s: s["linux"]["resources"].__setitem__(
        "blockIO", {"throttleReadBpsDevice": rate(485760)}))
    runc.ok("run", "--detach", "--bundle", b, c)
    cg = json.loads((runc.root / c / "state.json").read_text())["cgroup"]

    def limits() -> str:
        if cg["unified"]:
            with open(f"{cg['dirs']['']}/io.max") as f:
                return f.read()
        out = ""
        for kind in ("read_bps", "write_bps", "read_iops", "write_iops"):
            with open(f"{cg['dirs']['blkio']}/blkio.throttle.{kind}_device") as f:
                out += f"{kind} {f.read()}"
        return out

    assert (f"read_bps {dev} 485760" in limits()) or f"{dev} rbps=485760" in limits()
    doc = {"blockIO": {"throttleReadBpsDevice": rate(10485760), "throttleWriteBpsDevice": rate(9437184),
                       "throttleReadIOPSDevice": rate(1000), "throttleWriteIOPSDevice": rate(900)}}
    runc.ok("update", "--resources", "-", c, input=json.dumps(doc).encode())
    text = limits()
    for v1, v2 in ((f"read_bps {dev} 10485760", "rbps=10485760"), (f"write_bps {dev} 9437184", "wbps=9437184"),
                   (f"read_iops {dev} 1000", "riops=1000"), (f"write_iops {dev} 900", "wiops=900")):
        assert v1 in text or v2 in text, text
    # a malformed entry is one line naming the field, and nothing is created
    bad = bundle(["true"], edit=lambda s: s["linux"]["resources"].__setitem__(
        "blockIO", {"throttleWriteIOPSDevice": [{"major": major}]}))
    proc = runc("run", "--bundle", bad, cid())
    assert proc.returncode == 1 and b"blockIO.throttleWriteIOPSDevice" in proc.stderr
    assert proc.stderr.count(b"\n") == 1


@pytest.mark.skipif(is_unified(), reason="cgroup v1 hierarchies")
@pytest.mark.parametrize("writable", [False, True])
def test_cgroup_mount_on_v1_shows_the_containers_own_hierarchies(runc, bundle, writable):
    def edit(spec):
        spec["linux"]["resources"]["pids"] = {"limit": 77}
        if writable:  # runc's tests: a cgroup namespace and the mount without "ro"
            spec["linux"]["namespaces"].append({"type": "cgroup"})
        for m in spec["mounts"]:
            if m["type"] == "cgroup" and writable:
                m["options"] = [o for o in m.get("options", []) if o != "ro"]
        if not any(m["type"] == "cgroup" for m in spec["mounts"]):
            spec["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                                   "options": ["nosuid", "noexec", "nodev", "relatime"] + ([] if writable else ["ro"])})

    script = ("ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/pids.max; "
              "mkdir /sys/fs/cgroup/memory/sub 2>/dev/null && echo made || echo refused")
    c = cid()
    out = runc.ok("run", "--bundle", bundle(["sh", "-c", script], edit=edit), c).split()
    assert {"memory", "pids", "cpu", "freezer"} <= set(out)
    # name=systemd, where the container has its own cgroup too, is shown as runc shows it
    assert ("systemd" in out) == ("name=systemd" in open("/proc/self/mountinfo").read())
    assert out[out.index("pids") + 1:].count("77") == 1  # its own limit: the container's cgroup
    assert out[-1] == ("made" if writable else "refused")


@pytest.mark.skipif(not os.path.exists("/proc/self/timens_offsets"), reason="kernel without time namespaces")
def test_time_namespace_with_offsets_for_init_and_exec(runc, bundle):
    """runtime-spec config-linux.md: a `time` namespace with linux.timeOffsets (time_namespaces(7));
    exec joins it; offsets without a new time namespace are refused naming the field."""
    def edit(spec):
        spec["linux"]["namespaces"].append({"type": "time"})
        spec["linux"]["timeOffsets"] = {"boottime": {"secs": 86400, "nanosecs": 5}, "monotonic": {"secs": 7}}

    c = cid()
    runc.ok("run", "--detach", "--bundle", bundle(SLEEPER, edit), c)
    host_uptime = float(open("/proc/uptime").read().split()[0])
    for out in (open(f"/proc/{runc.state(c)['pid']}/timens_offsets").read(),
                runc.ok("exec", c, "cat", "/proc/self/timens_offsets")):
        assert out.split() == ["monotonic", "7", "0", "boottime", "86400", "5"], out
    assert float(runc.ok("exec", c, "cat", "/proc/uptime").split()[0]) >= host_uptime + 86400
    assert "time" in json.loads(runc.ok("features"))["linux"]["namespaces"]
    proc = runc("run", "--bundle", bundle(["true"], lambda s: s["linux"].update(timeOffsets={"monotonic": {"secs": 1}})),
                cid())
    assert proc.returncode == 1 and b"linux.timeOffsets needs a new time namespace" in proc.stderr


# A shim's view of `start`: it is the subreaper of the init `create` left behind. The FIFO open is
# made to wait until the released init has run and been reaped, the window containerd's shim hit
# under load (the init is real; only the order of two events is forced).
_START_AFTER_REAP = r"""
import ctypes, json, os, subprocess, sys
from imgtool.runtime import runc
runc_bin, root, bundle, cid = sys.argv[1:5]
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, as a shim is
subprocess.run([runc_bin, "--root", root, "create", "--bundle", bundle, cid], check=True,
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
real_open = os.open

def open_then_reap(path, flags, *rest):
    fd = real_open(path, flags, *rest)
    if str(path).endswith("exec.fifo"):
        os.waitpid(INIT, 0)  # the released init runs `true`, exits and is reaped right here
    return fd

INIT = json.loads(subprocess.run([runc_bin, "--root", root, "state", cid], capture_output=True,
                                 check=True).stdout)["pid"]
os.open = open_then_reap
print("exit", runc.main(["--root", root, "start", cid]), flush=True)
"""


def test_start_of_an_init_that_ran_and_was_reaped_at_once_succeeds(runc, bundle):
    c = cid()
    proc = subprocess.run([sys.executable, "-c", _START_AFTER_REAP, runc.binary, str(runc.root), str(bundle(["true"])), c],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "exit 0\n"), proc.stderr
    assert runc.state(c)["status"] == "stopped"


def test_create_refuses_a_pre_existing_frozen_cgroup_and_leaves_it(runc, bundle):
    c = cid()
    rel = f"/imgtool-test/{c}"
    if is_unified():
        directory, knob, value = f"/sys/fs/cgroup{rel}", "cgroup.freeze", "1"
    else:
        directory, knob, value = f"/sys/fs/cgroup/freezer{rel}", "freezer.state", "FROZEN"
    os.makedirs(directory)
    try:
        with open(f"{directory}/{knob}", "w") as f:
            f.write(value)
        b = bundle(["true"], edit=lambda s: s["linux"].__setitem__("cgroupsPath", rel))
        # the init would join the frozen cgroup and hang in D state (runc's factory refuses first)
        proc = runc("create", "--bundle", b, c, timeout=30)
        assert proc.returncode == 1 and b"container's cgroup unexpectedly frozen" in proc.stderr, proc.stderr
        assert runc("state", c).returncode == 1 and os.path.isdir(directory)  # the caller's cgroup is left
    finally:
        with open(f"{directory}/{knob}", "w") as f:
            f.write("0" if is_unified() else "THAWED")
        os.rmdir(directory)
