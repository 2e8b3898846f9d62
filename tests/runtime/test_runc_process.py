"""The process runc starts, as runc documents it and its own integration tests check (rlimits.bats,
hooks.bats, exec.bats): rlimits exactly as configured, HOME from the container's passwd, hooks'
environment and runc's error wording, pid-file errors as one line, and "\\n" output from a pty."""

from __future__ import annotations

import os
import resource
import time

import pytest

from .runc_fixtures import SLEEPER, Runc, bundle, cid, runc, runc_bin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")


def _nofile(spec: dict, soft: int, hard: int) -> None:
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]


def _cap_sys_resource() -> bool:
    eff = next(line for line in open("/proc/self/status") if line.startswith("CapEff:"))
    return bool(int(eff.split()[1], 16) >> 24 & 1)


def test_rlimits_are_set_exactly_as_configured(runc, bundle):
    check = ["sh", "-c", "ulimit -n; ulimit -H -n"]
    assert runc.ok("run", "--bundle", bundle(check, lambda s: _nofile(s, 512, 1000)), cid()).split() == ["512", "1000"]
    c = cid()
    runc.ok("run", "-d", "--bundle", bundle(SLEEPER, lambda s: _nofile(s, 256, 900)), c)
    assert runc.ok("exec", c, *check).split() == ["256", "900"]  # exec applies the process's too
    runc.ok("kill", c, "KILL")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    above = hard + 1  # root with CAP_SYS_RESOURCE may raise it (runc does); without, one clear line
    proc = runc("run", "--bundle", bundle(check, lambda s: _nofile(s, above, above)), cid())
    if _cap_sys_resource():
        assert proc.returncode == 0 and proc.stdout.split() == [str(above).encode()] * 2
    else:
        assert proc.returncode == 1 and proc.stderr.endswith(
            b' level=error msg="runc run failed: error setting rlimit type 7: operation not permitted"\n')


def test_home_defaults_from_passwd_and_start_container_hook_gets_process_env(runc, bundle, tmp_path):
    def edit(spec):
        spec["process"]["env"] = ["PATH=/bin:/usr/bin", "ONE=two"]
        spec["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo $ONE $HOME > /hook.out"]}]}

    b = bundle(["sh", "-c", "echo $HOME; cat /hook.out"], edit)
    assert runc.ok("run", "--bundle", b, cid()).split() == ["/root", "two", "/root"]
    c = cid()
    runc.ok("run", "-d", "--bundle", bundle(SLEEPER, lambda s: s["process"].update(env=["PATH=/bin"])), c)
    assert runc.ok("exec", "--user", "4242", c, "sh", "-c", "echo $HOME").strip() == "/"  # no passwd entry
    runc.ok("kill", c, "KILL")


def test_start_container_hook_runs_under_the_seccomp_filter(runc, bundle):
    """runc loads the filter before waiting for `start` (seccomp.bats "startContainer hook"), with
    or without no_new_privs, so a hook in the container is confined as its process will be."""
    def edit(spec, nnp):
        spec["process"]["noNewPrivileges"] = nnp
        spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}
        spec["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hook"]}]}

    for nnp in (True, False):
        proc = runc("run", "--bundle", bundle(["true"], lambda s: edit(s, nnp)), cid())
        err = proc.stderr.decode()
        assert proc.returncode != 0, (nnp, err)
        assert "error running startContainer hook #0: /bin/sh: signal: bad system call" in err, (nnp, err)


def test_failing_hook_is_named_in_runcs_words(runc, bundle):
    def edit(spec):
        spec["hooks"] = {"createRuntime": [{"path": "/bin/true"}, {"path": "/bin/false"}]}

    c = cid()
    proc = runc("create", "--bundle", bundle(["true"], edit), c)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "error running createRuntime hook #1: /bin/false: exited with 1" in err, err
    assert err.count("\n") == 1 and not (runc.root / c).exists()


def test_exec_pid_file_in_missing_directory_is_one_line(runc, bundle):
    c = cid()
    runc.ok("run", "-d", "--bundle", bundle(SLEEPER), c)
    proc = runc("exec", "--pid-file", "/nonexistent/dir/pid", c, "sleep", "31.25")
    err = proc.stderr.decode()
    assert proc.returncode == 255 and err.count("\n") == 1 and "/nonexistent/dir/pid" in err, err
    assert "Traceback" not in err
    left = [p for p in runc.ok("ps", "--format", "json", c).strip("[]\n").split(",")
            if _cmdline(p) == b"sleep\x0031.25\x00"]
    assert not left  # the exec'd process was not left behind
    runc.ok("kill", c, "KILL")


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_exec_error_uses_go_errno_text(runc, bundle):
    c = cid()
    runc.ok("run", "-d", "--bundle", bundle(SLEEPER), c)
    proc = runc("exec", c, "/nonexistent")
    assert proc.returncode == 255 and b"no such file or directory" in proc.stderr, proc.stderr
    runc.ok("kill", c, "KILL")


def test_empty_home_is_replaced_and_last_env_entry_wins(runc, bundle):
    b = bundle(["sh", "-c", "echo $HOME $ONE"],
               lambda s: s["process"].update(env=["PATH=/bin", "HOME=/override", "HOME=", "ONE=two", "ONE=three"]))
    assert runc.ok("run", "--bundle", b, cid()).split() == ["/root", "three"]


@pytest.mark.skipif(os.path.exists("/sys/fs/cgroup/cgroup.controllers") or not os.path.isdir("/sys/fs/cgroup/cpuset"),
                    reason="cgroup v1 cpuset only")
def test_container_below_a_pod_cgroup_with_empty_cpuset(runc, bundle):
    """A pod cgroup made by someone else has empty cpuset.cpus/mems on v1: they are filled from its
    parent (runc's ensureParent), else nothing could join the container's cgroup (ENOSPC)."""
    pod = f"imgtool-test-pod-{os.getpid()}"
    os.mkdir(f"/sys/fs/cgroup/cpuset/{pod}")
    try:
        assert open(f"/sys/fs/cgroup/cpuset/{pod}/cpuset.cpus").read().strip() == ""
        b = bundle(["true"], lambda s: s["linux"].update(cgroupsPath=f"/{pod}/ctr"))
        runc.ok("run", "--bundle", b, cid())
    finally:
        for d in (f"/sys/fs/cgroup/cpuset/{pod}/ctr", f"/sys/fs/cgroup/cpuset/{pod}"):
            if os.path.isdir(d):
                os.rmdir(d)


def test_pty_output_to_a_pipe_has_no_carriage_returns(runc, bundle):
    """runc clears ONLCR on the pty it relays (its tty.go recvtty): a caller reading a pipe or file
    gets the container's "\\n" as written, even for output made before the relay starts."""
    b = bundle(["sh", "-c", "echo a; echo b"], lambda s: s["process"].update(terminal=True))
    assert runc.ok("run", "--bundle", b, cid()) == "a\nb\n"
    c = cid()
    runc.ok("run", "-d", "--bundle", bundle(SLEEPER), c)
    assert runc.ok("exec", "-t", c, "echo", "x") == "x\n"
    runc.ok("kill", c, "KILL")


def _logging_hooks(out, poststart: str):
    def edit(spec):
        spec["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", f"{{ {poststart}; }} >> {out}"]}],
                         "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo poststop >> {out}"]}]}
    return edit


def test_foreground_run_runs_poststart_and_poststop_hooks(runc, bundle, tmp_path):
    out = tmp_path / "hooks.log"
    assert runc.ok("run", "--bundle", bundle(["echo", "hi"], _logging_hooks(out, "echo poststart")), cid()) == "hi\n"
    assert out.read_text().split() == ["poststart", "poststop"]


@pytest.mark.parametrize("detached", [False, True])
def test_failing_poststart_hook_stops_and_destroys_the_container(runc, bundle, tmp_path, detached):
    """runtime-spec Lifecycle step 9: generate an error, stop the container, continue at step 12
    (destroy, then the poststop hooks)."""
    out = tmp_path / "hooks.log"
    b = bundle(["sleep", "30"], _logging_hooks(out, "echo poststart; exit 3"))
    c = cid()
    started = time.monotonic()
    if detached:
        runc.ok("create", "--bundle", b, c)
        pid = runc.state(c)["pid"]
        proc = runc("start", c)
    else:
        proc = runc("run", "--bundle", b, c)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "error running poststart hook #0: /bin/sh: exited with 3" in err, err
    assert time.monotonic() - started < 20  # the process was stopped, not waited for
    assert out.read_text().split() == ["poststart", "poststop"] and not (runc.root / c).exists()
    if detached:
        assert b"does not exist" in runc("state", c).stderr
        assert _cmdline(str(pid)) in (b"", b"sleep\x0030\x00") and _stopped(pid)


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"  # killed, left to a reaper
    except FileNotFoundError:
        return True
