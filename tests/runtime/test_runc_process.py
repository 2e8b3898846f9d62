"""The process runc starts, as runc documents it and its own integration tests check (rlimits.bats,
hooks.bats, exec.bats): rlimits exactly as configured, HOME from the container's passwd, hooks'
environment and runc's error wording, pid-file errors as one line, and "\\n" output from a pty."""

from __future__ import annotations

import os
import resource

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
        assert proc.returncode == 1 and proc.stderr == b"imgtool-runc: error setting rlimit type 7: operation not permitted\n"


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
