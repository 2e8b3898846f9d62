"""imgtool-runc as containerd's go-runc, conmon and CRI-O drive it: runc's flags, files, wording and
exit codes (research orchestrator.md §1-§5), checked through the real launcher binary."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtool.runtime import launcher

from .runc_fixtures import SLEEPER, Runc, bundle, cid, runc, runc_bin, wait_catching  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")


def test_version_and_features(runc):
    out = runc.ok("--version").splitlines()
    assert out[0].startswith("runc version ") and out[1].startswith("commit: ") and out[2] == "spec: 1.0.2"
    features = json.loads(runc.ok("features"))
    assert features["ociVersionMin"] == "1.0.0" and features["ociVersionMax"]
    assert "user" in features["linux"]["namespaces"]  # implemented (test_runc_userns.py), so advertised
    assert features["linux"]["mountExtensions"]["idmap"]["enabled"] is False
    assert "SCMP_ACT_ERRNO" in features["linux"]["seccomp"]["actions"]


def test_usage_errors_are_one_line(runc):
    for args, text in ((["frobnicate"], "No help topic"), (["state"], "requires a container id"),
                       (["--log-format", "xml", "state", "x"], "invalid log-format"),
                       (["kill", "--bogus", "x"], "flag provided but not defined")):
        proc = runc(*args)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and text in err and err.count("\n") == 1, (args, err)


def test_errors_use_runc_wording_and_json_log(runc_bin, tmp_path):
    r = Runc(runc_bin, tmp_path / "state", log=tmp_path / "log.json")
    for verb in ("state", "start", "kill", "delete", "pause"):
        proc = r(verb, "nosuch")
        assert proc.returncode == 1 and b"container does not exist" in proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "log.json").read_text().splitlines()]
    assert len(lines) == 5 and all(entry["level"] == "error" for entry in lines)
    assert lines[-1]["msg"] == "container does not exist"
    assert lines[-1]["time"].endswith("Z") and "T" in lines[-1]["time"]  # RFC 3339, as containerd decodes
    assert r("delete", "--force", "nosuch").returncode == 0  # runc: unknown + --force is fine


def test_lifecycle_pid_file_and_state(runc, bundle, tmp_path):
    b = bundle(SLEEPER)
    c = cid()
    pid_file = tmp_path / "init.pid"
    assert runc.ok("create", "--bundle", b, "--pid-file", pid_file, c) == ""
    raw = pid_file.read_text()
    assert raw.isdigit()  # go-runc's ReadPidFile: Atoi, no newline
    st = runc.state(c)
    assert st["status"] == "created" and st["pid"] == int(raw) and st["bundle"] == str(b)
    assert st["created"].endswith("Z") and st["ociVersion"]
    assert runc("create", "--bundle", b, c).stderr.decode().strip().endswith('msg="runc create failed: container with given ID already exists"')
    runc.ok("start", c)
    runc.wait_status(c, "running")
    assert b"cannot start an already running container" in runc("start", c).stderr
    proc = runc("delete", c)
    assert proc.returncode == 1 and b"cannot delete container" in proc.stderr and b"running" in proc.stderr
    assert [s["id"] for s in json.loads(runc.ok("list", "--format", "json"))] == [c]
    assert runc.ok("list", "-q").split() == [c]
    wait_catching(int(raw), signal.SIGTERM)  # a TERM before the shell's trap would be dropped
    runc.ok("kill", c, "TERM")
    runc.wait_status(c, "stopped")
    assert runc.state(c)["pid"] == 0
    assert b"container not running" in runc("kill", c, "KILL").stderr
    assert runc("kill", "--all", c, "KILL").returncode == 0  # --all turns "not running" into success
    runc.ok("delete", c)
    assert runc.ok("list", "--format", "json").strip() == "null"


def test_delete_of_created_container_kills_it(runc, bundle):
    c = cid()
    runc.ok("create", "--bundle", bundle(["true"]), c)
    pid = runc.state(c)["pid"]
    runc.ok("delete", c)
    for _ in range(500):
        if not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.01)
    else:
        pytest.fail("the created init survived delete")


def test_signal_names_and_numbers(runc, bundle):
    b = bundle(["sh", "-c", "trap 'echo usr1 > /tmp/got' USR1; while :; do sleep 0.05; done"])
    c = cid()
    runc.ok("create", "--bundle", b, c)
    runc.ok("start", c)
    runc.wait_status(c, "running")
    runc.ok("kill", c, "USR1")
    runc.ok("kill", c, "SIGUSR1")
    assert b"unknown signal" in runc("kill", c, "NOPE").stderr
    runc.ok("kill", c, str(int(signal.SIGKILL)))
    runc.wait_status(c, "stopped")


def test_exec_detached_and_foreground(runc, bundle, tmp_path):
    c = cid()
    runc.ok("create", "--bundle", bundle(SLEEPER), c)
    runc.ok("start", c)
    runc.wait_status(c, "running")
    init = runc.state(c)["pid"]
    # foreground: stdio passed through, the status comes back (runc exec without -d)
    proc = runc("exec", c, "sh", "-c", "echo $$ in; cat /proc/1/cmdline | tr '\\0' ' '; exit 5")
    out = proc.stdout.decode().splitlines()
    assert proc.returncode == 5 and out[0].endswith(" in") and out[1].startswith("sh -c trap")
    assert runc("exec", "--env", "FOO=bar", "--cwd", "/tmp", c, "sh", "-c", 'echo "$FOO $(pwd)"').stdout == b"bar /tmp\n"
    assert runc("exec", "--user", "1000:1000", c, "id", "-u").stdout == b"1000\n"
    # detached with a process file, as containerd's shim does
    spec = json.loads((tmp_path / "bundle" / "config.json").read_text())
    process = dict(spec["process"], args=["sh", "-c", "echo detached > /tmp/d; exec sleep 30"])
    (tmp_path / "process.json").write_text(json.dumps(process))
    runc.ok("exec", "--process", tmp_path / "process.json", "--detach", "--pid-file", tmp_path / "e1.pid", c)
    epid = int((tmp_path / "e1.pid").read_text())
    assert epid != init and {init, epid} <= set(json.loads(runc.ok("ps", "--format", "json", c)))
    # the exec'd process is in the container's namespaces
    for ns in ("mnt", "pid", "uts", "ipc", "net"):
        assert os.readlink(f"/proc/{epid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}")
    assert "PID" in runc.ok("ps", c).splitlines()[0]
    # failures: 255 and runc's wording
    proc = runc("exec", c, "no-such-binary")
    assert proc.returncode == 255 and b"executable file not found" in proc.stderr
    runc.ok("kill", "--all", c, "KILL")
    runc.wait_status(c, "stopped")
    proc = runc("exec", c, "true")
    assert proc.returncode == 255 and b"cannot exec in a stopped container" in proc.stderr


def test_exec_tty_over_console_socket(runc, bundle, tmp_path):
    c = cid()
    runc.ok("create", "--bundle", bundle(SLEEPER), c)
    runc.ok("start", c)
    assert b"cannot allocate tty" in runc("exec", "--tty", "--detach", c, "true").stderr
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "pty.sock"))
        listener.listen(1)
        runc.ok("exec", "--tty", "--detach", "--console-socket", tmp_path / "pty.sock", c, "sh", "-c", "tty; sleep 1")
        conn, _ = listener.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    master = fds[0]
    out = b""
    deadline = time.monotonic() + 10
    while b"\n" not in out and time.monotonic() < deadline:
        out += os.read(master, 100)
    os.close(master)
    assert out.startswith(b"/dev/pts/")


def test_pause_resume_and_events(runc, bundle):
    c = cid()
    runc.ok("create", "--bundle", bundle(SLEEPER), c)
    assert b"container not running" in runc("pause", c).stderr
    runc.ok("start", c)
    runc.wait_status(c, "running")
    runc.ok("pause", c)
    assert runc.state(c)["status"] == "paused"
    assert b"cannot exec in a paused container" in runc("exec", c, "true").stderr
    runc.ok("resume", c)
    assert runc.state(c)["status"] == "running"
    assert b"container not paused" in runc("resume", c).stderr
    event = json.loads(runc.ok("events", "--stats", c).splitlines()[0])
    assert event["type"] == "stats" and event["id"] == c
    assert event["data"]["pids"]["current"] >= 1 and event["data"]["memory"]["usage"]["usage"] > 0
    assert event["data"]["cpu"]["usage"]["total"] > 0


def test_update_resources_from_stdin(runc, bundle):
    c = cid()
    runc.ok("create", "--bundle", bundle(SLEEPER), c)
    runc.ok("update", "--resources", "-", c, input=json.dumps({"pids": {"limit": 42},
                                                               "memory": {"limit": 64 << 20}}).encode())
    runc.ok("update", "--pids-limit", "43", c)
    pids_dir = next(p for p in Path("/sys/fs/cgroup").glob(f"*/**/{c}") if (p / "pids.max").exists()) \
        if not Path("/sys/fs/cgroup/cgroup.controllers").exists() else None
    if pids_dir is not None:
        assert (pids_dir / "pids.max").read_text().strip() == "43"
    assert json.loads(runc.ok("events", "--stats", c))["data"]["memory"]["usage"]["limit"] == 64 << 20


def test_unsupported_fields_are_refused_at_create(runc, bundle):
    c = cid()
    for field, edit in (("linux.intelRdt", lambda s: s["linux"].update(intelRdt={"closID": "x"})),
                        ("mounts[0].uidMappings", lambda s: s["mounts"][0].update(
                            uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}])),
                        ("process.selinuxLabel", lambda s: s["process"].update(selinuxLabel="system_u:x")),
                        ("linux.personality", lambda s: s["linux"].update(personality={"domain": "LINUX32"})),
                        ("linux.namespaces", lambda s: s["linux"]["namespaces"].append({"type": "nosuch"}))):
        proc = runc("create", "--bundle", bundle(["true"], edit), c)
        assert proc.returncode == 1 and field.encode() in proc.stderr, (field, proc.stderr)
        assert not (runc.root / c).exists()


def test_seccomp_sysctl_hooks_and_namespace_join(runc, bundle, tmp_path):
    hook_out = tmp_path / "hooks"
    hook_out.mkdir()
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\nread state; echo \"$1 $state\" >> {hook_out}/log\n")
    hook.chmod(0o755)
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])  # a "pod sandbox" netns to join
    try:
        for _ in range(100):
            if os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.02)

        def edit(spec):
            spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                                      "errnoRet": 1}]}
            spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
            spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"] + [
                {"type": "network", "path": f"/proc/{holder.pid}/ns/net"}]
            spec["hooks"] = {k: [{"path": str(hook), "args": ["hook", k]}]
                             for k in ("createRuntime", "poststart", "poststop")}

        b = bundle(["sh", "-c", "mkdir /tmp/x 2>&1; cat /proc/sys/net/ipv4/ip_forward; "
                                "readlink /proc/self/ns/net; sleep 0.3"], edit)
        c = cid()
        out = tmp_path / "out"
        with open(out, "wb") as f:
            subprocess.run(runc.argv("create", "--bundle", b, c), stdout=f, stderr=f, check=True, timeout=60)
        runc.ok("start", c)
        runc.wait_status(c, "stopped")
        runc.ok("delete", c)
        lines = out.read_text().splitlines()
        assert "Operation not permitted" in lines[0]
        assert lines[1] == "1"
        assert lines[2] == os.readlink(f"/proc/{holder.pid}/ns/net")
        log = (hook_out / "log").read_text().splitlines()
        assert [line.split()[0] for line in log] == ["createRuntime", "poststart", "poststop"]
        assert json.loads(log[0].split(" ", 1)[1])["id"] == c
    finally:
        holder.kill()
        holder.wait()


def test_imgtool_runtime_is_the_same_cli(imgtool, tmp_path):
    r = imgtool("runtime", "--root", str(tmp_path / "s"), "state", "nosuch")
    assert r.returncode == 1 and r.stderr == "imgtool runtime: container does not exist\n"
    assert imgtool("runtime", "--version").stdout.startswith("runc version ")


def test_entry_point_imports_no_typer_registry_or_builder(runc_bin):
    code = ("import sys; from imgtool.runtime import runc, verbs, lifecycle, execute, stats, features;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'registry', 'requests')"
            " or m.startswith(('imgtool.builder', 'imgtool.store', 'imgtool.cli'))]; print(bad)")
    out = subprocess.run([sys.executable, "-IS", "-c", f"import sys; sys.path.insert(0, {str(Path(launcher.__file__).parents[2])!r}); {code}"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    pyproject = (Path(launcher.__file__).parents[2] / "pyproject.toml").read_text()
    assert 'imgtool-runc = "imgtool.runtime.runc:entry"' in pyproject


def test_spawn_child_failing_before_init_exits_instead_of_unwinding(bundle, tmp_path, monkeypatch):
    """The forked child must end with one error line whatever fails before run_init (here: dup2 of
    a closed stdio fd); unwinding would run the caller's code (this test, pytest) in two processes."""
    from imgtool.runtime import container as ctr
    from imgtool.runtime import state
    from imgtool.runtime.init import Plan

    monkeypatch.setattr(state, "STATE_ROOT", str(tmp_path / "root"))
    b = bundle(["true"])
    closed = 1000 + max(map(int, os.listdir("/proc/self/fd")))  # above any fd spawn's pipes could take
    with pytest.raises(ctr.RuntimeError_, match="container init: .*Bad file descriptor") as err:
        ctr.spawn("t-bad-stdio", json.loads((b / "config.json").read_text()), Plan(rootfs=str(b / "rootfs")),
                  bundle=str(b), stdio=(closed, closed, closed))
    assert err.value.exit_code == 125
    assert not (tmp_path / "root" / "t-bad-stdio").exists()


def test_launcher_starts_without_site_or_pythonpath_from_any_directory(tmp_path):
    """What scripts/setup.sh installs as imgtool-runc: containerd and podman exec it with their own
    environment (no PYTHONPATH) and working directory."""
    path = launcher.write(str(tmp_path / "imgtool-runc"))
    assert open(path).readline().rstrip().endswith(" -IS")
    proc = subprocess.run([path, "--version"], env={}, cwd="/", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("runc version "), proc.stderr
