"""Bad flag values and hostile images: one docker-worded line, exit 125, nothing left behind; an
/etc/passwd that is a FIFO, a device or huge never hangs; a TERM-ignoring entrypoint is KILLed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import leftovers, state, until

BAD = [
    (["--memory", "1k"], "Minimum memory limit allowed is 6MB"),
    (["--memory", "lots"], 'invalid argument "lots" for "--memory" flag'),
    (["--memory", "200m", "--memory-swap", "100m"], "Minimum memoryswap limit should be larger than memory limit"),
    (["--memory-swap", "1g"], "You should always set the Memory limit when using Memoryswap limit"),
    (["--cpus", "nan"], "failed to parse nan as a rational number"),
    (["--cpus", "inf"], "failed to parse inf as a rational number"),
    (["--cpus", "-1"], "Range of CPUs is from 0.01 to"),
    (["--cpus", "100000"], "Range of CPUs is from 0.01 to"),
    (["--cpu-shares", "1"], "--cpu-shares"),
    (["--cpu-shares", "999999"], "--cpu-shares"),
    (["--pids-limit", "-5"], "--pids-limit"),
    (["--name", "x"], "Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    (["--name", "a b"], "Invalid container name (a b)"),
    (["-p", "99999:80"], "invalid hostPort: 99999"),
    (["-p", "80/icmp"], "invalid proto: icmp"),
    (["-p", "1.2.3:80:80"], "invalid IP address: 1.2.3"),
    (["-p", "8080-8082:80-81"], "invalid ranges specified for container and host Ports"),
    (["-v", "/tmp:ro"], "invalid volume specification: '/tmp:ro'"),
    (["-v", "/tmp:relative"], "invalid mount path: 'relative' mount path must be absolute"),
    (["-v", "/tmp:/data:rx"], "invalid mode: rx"),
    (["-v", "/tmp:/"], "invalid specification: destination can't be '/'"),
    (["-v", "a b:/data"], 'includes invalid characters for a local volume name'),
    (["--mount", "type=bind,source=/nonexistent-imgtool,target=/x"], "bind source path does not exist"),
    (["--mount", "type=bind,source=/tmp"], "field Target must not be empty"),
    (["--mount", "type=tmpfs,target=/x,bogus=1"], "unknown option 'bogus'"),
    (["--log-opt", "max-size=0"], "max-size must be a positive number"),
    (["--log-opt", "max-file=0"], "max-file cannot be less than 1"),
    (["--network", "bogus"], "network bogus not found"),
    (["--stop-signal", "FOO"], "FOO"),
    (["--restart", "sometimes"], "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
                                 "'on-failure', or 'unless-stopped'"),
    (["--restart", "on-failure:x"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--restart", "always:3"], "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    (["--restart", "on-failure:-1"], "invalid restart policy: maximum retry count cannot be negative"),
    (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
    (["--cap-add", "FOO"], 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    (["--cap-drop", "bogus"], 'invalid CapDrop: unknown capability: "CAP_BOGUS"'),
    (["--security-opt", "seccomp=/nonexistent-imgtool.json"],
     "opening seccomp profile (/nonexistent-imgtool.json) failed: no such file or directory"),
    (["--security-opt", "apparmor=unconfined"], "invalid --security-opt: 'apparmor=unconfined'"),
]


@pytest.mark.parametrize("flags,message", BAD, ids=[" ".join(f) for f, _ in BAD])
def test_bad_flag_is_one_line_exit_125_nothing_left(cstore, imgtool, flags, message):
    r = imgtool("run", "-d", *flags, "busybox", "true")
    assert r.returncode == 125, r
    assert r.stdout == "" and r.stderr.count("\n") == 1 and r.stderr.startswith("imgtool: "), r
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (cstore.path / "containers").exists() or not [p for p in (cstore.path / "containers").iterdir()
                                                               if not p.name.startswith(".")]
    assert not (cstore.path / "volumes").exists()


def test_missing_image_and_taken_name(cstore, imgtool):
    r = imgtool("run", "nosuchimage")  # docker's notice, then the pull's one-line error
    assert r.returncode == 125 and r.stderr.splitlines()[0] == "Unable to find image 'nosuchimage' locally", r
    assert len(r.stderr.splitlines()) == 2 and r.stderr.splitlines()[1].startswith("imgtool: "), r
    r = imgtool("run", "--pull", "never", "nosuchimage")
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r
    cid = imgtool("run", "-d", "--name", "taken", "busybox", "sleep", "100", check=True).stdout.strip()
    r = imgtool("run", "-d", "--name", "taken", "busybox", "true")
    assert r.returncode == 125 and r.stderr == (
        f'imgtool: Conflict. The container name "/taken" is already in use by container "{cid}". '
        "You have to remove (or rename) that container to be able to reuse that name.\n")
    assert imgtool("ps", "-a", "-q", check=True).stdout.split() == [cid[:12]]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imgtool", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("image", ["fifo-passwd", "dev-passwd", "huge-passwd"])
def test_hostile_passwd_never_hangs(images, image):
    r = _run("run", "--rm", image)  # USER root: the runtime still reads passwd for HOME
    assert (r.returncode, r.stdout) == (0, "ran\n"), r
    r = _run("run", "--rm", "--user", "nobody", image, "echo", "ran")
    if image == "huge-passwd":  # a regular file: read (its first 4 MiB), nobody is not in it
        assert r.returncode == 125 and "unable to find user nobody" in r.stderr
    else:
        assert r.returncode == 125 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r
    cid = _run("run", "-d", image, "sleep", "100").stdout.strip()
    r = _run("exec", "-u", "0", cid, "sh", "-c", "echo $HOME")
    assert (r.returncode, r.stdout) == (0, "/root\n" if image == "huge-passwd" else "/\n"), r
    assert _run("rm", "-f", cid).returncode == 0
    assert not leftovers(cid)


def test_entrypoint_ignoring_term_is_killed_by_stop(cstore, imgtool):
    cid = imgtool("run", "-d", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 1; done", check=True).stdout.strip()
    pid = state(cstore, cid)["pid"]
    started = time.monotonic()
    imgtool("stop", "-t", "1", cid, check=True)
    took = time.monotonic() - started
    assert 1 <= took < 30, took  # the 1 s grace, then KILL (a missing escalation would hang here)
    assert "Exited (137)" in imgtool("ps", "-a", check=True).stdout
    assert not Path(f"/proc/{pid}").exists()
    imgtool("rm", cid, check=True)
    assert not leftovers(cid)


def test_image_stop_signal_is_used(images, imgtool):
    # `ready` is said once the trap is set (a fixed sleep raced the shell on a loaded machine): a USR1
    # before it is dropped by PID 1, and stop would wait for its timeout as if TERM had been sent
    cid = imgtool("run", "-d", "stopsig", "sh", "-c", "trap 'exit 3' USR1; echo ready; while :; do sleep 0.1; done",
                  check=True).stdout.strip()
    until(lambda: imgtool("logs", cid, check=True).stdout == "ready\n", what="the trap")
    started = time.monotonic()
    imgtool("stop", cid, check=True)
    assert time.monotonic() - started < 9, "stop waited for the 10 s timeout: SIGUSR1 was not sent"
    assert imgtool("wait", cid, check=True).stdout == "3\n"  # TERM (ignored by PID 1) would end in 137


def test_every_container_on_disk_is_listed_and_removable(cstore, imgtool):
    failed = imgtool("run", "--name", "never-started", "busybox", "no-such-binary")
    assert failed.returncode == 127 and failed.stderr.count("\n") == 1
    cid = imgtool("run", "-d", "--name", "torn", "busybox", "sleep", "100", check=True).stdout.strip()
    imgtool("kill", "torn", check=True)
    (cstore.path / "containers" / cid / "config.json").write_text("{half")
    ps = imgtool("ps", "-a", check=True)
    assert ps.stderr == "" and "Created" in ps.stdout and "Dead" in ps.stdout, ps
    assert imgtool("rm", "-f", "never-started", cid[:12], check=True).returncode == 0
    assert imgtool("ps", "-a", "-q", check=True).stdout == ""
    assert not leftovers(cid)
    assert imgtool("rm", "-f", "gone-already").returncode == 0  # docker: -f on a missing name is quiet
    r = imgtool("rm", "gone-already")
    assert r.returncode == 1 and r.stderr == "imgtool: No such container: gone-already\n"
