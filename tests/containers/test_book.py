"""The book's chapter-2 sequence (run -d --name kuard -p ... --memory ... ; curl; ps; logs; stop; rm)
and what a detached container must survive: the CLI and its shell, its monitor killed, a reboot."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from imgtool.containers.network import RUN_ROOT
from imgtool.runtime import state as rstate

from .conftest import HTTPD, free_port, http_get, leftovers, no_process, state, until


def _cgroup_value(dirs: dict, v1: tuple[str, str], v2: str) -> str:
    path = Path(dirs[""]) / v2 if "" in dirs else Path(dirs[v1[0]]) / v1[1]
    return path.read_text().strip()


def test_book_sequence(cstore, imgtool):
    port = free_port()
    r = imgtool("run", "-d", "--name", "kuard", "-p", f"127.0.0.1:{port}:80", "--memory", "200m",
                "--memory-swap", "1G", "--cpu-shares", "1024", "busybox", *HTTPD)
    assert r.returncode == 0, r
    cid = r.stdout.strip()
    assert len(cid) == 64 and r.stderr == ""
    page = http_get(port)
    assert "200 OK" in page and f"hello from {cid[:12]}" in page  # --hostname defaults to the short ID

    ps = imgtool("ps", check=True).stdout.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    row = next(line for line in ps if line.endswith("kuard"))
    assert row.startswith(cid[:12]) and f"127.0.0.1:{port}->80/tcp" in row and "Up " in row

    st = state(cstore, cid)
    dirs = st["cgroup"]["dirs"]
    assert _cgroup_value(dirs, ("memory", "memory.limit_in_bytes"), "memory.max") == str(200 << 20)
    if "" in dirs:
        assert _cgroup_value(dirs, ("", ""), "memory.swap.max") == str((1 << 30) - (200 << 20))
    elif Path(dirs["memory"], "memory.memsw.limit_in_bytes").exists():
        assert _cgroup_value(dirs, ("memory", "memory.memsw.limit_in_bytes"), "") == str(1 << 30)
    shares = _cgroup_value(dirs, ("cpu", "cpu.shares"), "cpu.weight")
    assert shares == ("39" if "" in dirs else "1024")

    # httpd -v logs to stderr: kept as stderr. The line reaches the log through the monitor, in its
    # own time: the page having arrived does not mean the monitor has written it yet
    until(lambda: "response:200" in imgtool("logs", "kuard", check=True).stderr, what="httpd's log line")

    started = time.monotonic()
    assert imgtool("stop", "-t", "30", "kuard", check=True).stdout.strip() == "kuard"
    assert time.monotonic() - started < 25, "stop waited for the timeout though the container handles TERM"
    assert "Exited (0)" in imgtool("ps", "-a", check=True).stdout
    r = imgtool("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.HostConfig.Memory}}", "kuard")
    assert r.stdout == f"exited 0 {200 << 20}\n", r
    monitor, slirp = st["monitor_pid"], (RUN_ROOT / cid / "slirp.pid")
    assert imgtool("rm", "kuard", check=True).stdout.strip() == "kuard"
    assert no_process(st["pid"]) and no_process(monitor)
    assert not leftovers(cid), leftovers(cid)
    assert not slirp.exists() and not (cstore.snapshots_dir / "containers" / cid).exists()
    assert imgtool("ps", "-a", "-q", check=True).stdout == ""


def test_detached_survives_cli_and_shell(cstore, imgtool):
    port = free_port()
    shell = subprocess.run(
        ["setsid", "sh", "-c", shlex.join([sys.executable, "-m", "imgtool", "run", "-d", "--name", "bg", "-p",
                                           f"127.0.0.1:{port}:80", "busybox", *HTTPD])],
        capture_output=True, text=True, timeout=60, env=os.environ)
    assert shell.returncode == 0, shell.stderr
    cid = shell.stdout.strip()
    time.sleep(0.5)
    assert "hello from" in http_get(port)
    st = state(cstore, cid)
    # its own session (the double fork's, whose leader is gone): no terminal hangup reaches it
    assert os.getsid(st["monitor_pid"]) not in (os.getsid(0), st["monitor_pid"])
    assert no_process(os.getsid(st["monitor_pid"]))
    assert "Up " in imgtool("ps", check=True).stdout


def test_monitor_killed_container_stays_stoppable_and_removable(cstore, imgtool):
    port = free_port()
    cid = imgtool("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD, check=True).stdout.strip()
    http_get(port)
    st = state(cstore, cid)
    os.kill(st["monitor_pid"], signal.SIGKILL)
    time.sleep(0.2)
    assert "hello from" in http_get(port), "the container died with its monitor"
    assert "Up " in imgtool("ps", check=True).stdout
    assert imgtool("stop", "-t", "5", cid[:12], check=True).stdout.strip() == cid[:12]
    ps = imgtool("ps", "-a", check=True).stdout
    assert "Exited (143)" in ps, ps  # nobody saw the status: the signal that ended it
    imgtool("rm", cid, check=True)
    assert no_process(st["pid"]) and not leftovers(cid), leftovers(cid)


def test_reboot_equivalent_reports_exited(cstore, imgtool):
    cid = imgtool("run", "-d", "busybox", "sleep", "1000", check=True).stdout.strip()
    st = state(cstore, cid)
    # a reboot: every process gone, /run (tmpfs) empty; the store and the cgroup record remain
    os.kill(st["monitor_pid"], signal.SIGKILL)
    os.kill(st["pid"], signal.SIGKILL)
    for _ in range(200):
        if no_process(st["pid"]):
            break
        time.sleep(0.01)
    subprocess.run(["umount", "-l", str(RUN_ROOT / cid / "netns")], capture_output=True)
    subprocess.run(["pkill", "-F", str(RUN_ROOT / cid / "slirp.pid")], capture_output=True)
    subprocess.run(["rm", "-rf", str(RUN_ROOT / cid), f"{rstate.STATE_ROOT}/{cid}"], check=True)
    ps = imgtool("ps", "-a", check=True)
    assert "Exited (255)" in ps.stdout and ps.stderr == ""
    doc = imgtool("container", "inspect", cid, check=True).stdout
    assert '"Status": "exited"' in doc and '"Running": false' in doc
    assert imgtool("rm", cid, check=True).returncode == 0
    assert not leftovers(cid), leftovers(cid)
