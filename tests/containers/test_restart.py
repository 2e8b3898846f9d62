"""Restart policies kept by the monitor (docker's semantics): on-failure[:N] counts its retries,
always/unless-stopped restart any exit, `stop` ends the restarting, an attached run returns the
first run's code while the container goes on; inspect shows the policy and RestartCount."""

from __future__ import annotations

import json
import time

from .conftest import leftovers, until


def _inspect(imgtool, cid: str) -> dict:
    return json.loads(imgtool("inspect", cid, check=True).stdout)[0]


def test_on_failure_retries_then_stays_exited(cstore, imgtool):
    cid = imgtool("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3",
                  check=True).stdout.strip()
    assert imgtool("wait", cid, check=True).stdout == "3\n"  # wait sees through the restarts
    doc = _inspect(imgtool, cid)
    assert doc["RestartCount"] == 2 and doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                                                 "MaximumRetryCount": 2}
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 3
    assert imgtool("logs", cid, check=True).stdout == "run\n" * 3
    ok = imgtool("run", "-d", "--restart", "on-failure", "busybox", "true", check=True).stdout.strip()
    assert imgtool("wait", ok, check=True).stdout == "0\n" and _inspect(imgtool, ok)["RestartCount"] == 0
    assert _inspect(imgtool, ok)["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"


def test_always_restarts_until_stopped(cstore, imgtool):
    cid = imgtool("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0",
                  check=True).stdout.strip()
    until(lambda: _inspect(imgtool, cid)["RestartCount"] >= 2)
    seen = {imgtool("ps", "--format", "{{.Status}}", check=True).stdout.split(" ")[0] for _ in range(5)}
    assert seen <= {"Up", "Restarting"}, seen  # ps (without -a) keeps listing it between runs
    imgtool("stop", "-t", "1", cid, check=True)
    doc = _inspect(imgtool, cid)
    assert doc["State"]["Status"] == "exited" and not doc["State"]["Restarting"]
    count = doc["RestartCount"]
    time.sleep(0.6)  # longer than the back-off so far: no restart after a stop
    doc = _inspect(imgtool, cid)
    assert doc["State"]["Status"] == "exited" and doc["RestartCount"] == count
    assert not leftovers(cid), leftovers(cid)  # nothing of a run: no process, cgroup, mount
    imgtool("start", cid, check=True)  # a manual start: the policy applies again
    until(lambda: _inspect(imgtool, cid)["RestartCount"] > count)
    imgtool("rm", "-f", cid, check=True)
    assert not leftovers(cid), leftovers(cid)


def test_unless_stopped_restarts_a_clean_exit(cstore, imgtool):
    cid = imgtool("run", "-d", "--restart", "unless-stopped", "busybox", "true", check=True).stdout.strip()
    until(lambda: _inspect(imgtool, cid)["RestartCount"] >= 1)
    r = imgtool("rm", cid)
    assert r.returncode == 1 and "stop the container before removing or force remove" in r.stderr
    imgtool("kill", cid, check=True)  # SIGKILL cancels the policy too (moby's ExitOnNext)
    until(lambda: _inspect(imgtool, cid)["State"]["Status"] == "exited")
    imgtool("rm", cid, check=True)


def test_attached_run_returns_first_exit_and_keeps_restarting(cstore, imgtool):
    r = imgtool("run", "--restart", "on-failure:1", "busybox", "sh", "-c", "echo attached; exit 7")
    assert (r.returncode, r.stdout) == (7, "attached\n"), r
    cid = imgtool("ps", "-a", "-q", "--no-trunc", check=True).stdout.strip()
    assert imgtool("wait", cid, check=True).stdout == "7\n"
    assert _inspect(imgtool, cid)["RestartCount"] == 1
    assert imgtool("logs", cid, check=True).stdout == "attached\n" * 2
