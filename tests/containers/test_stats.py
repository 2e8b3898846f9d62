"""`stats --no-stream`: figures from each running container's cgroup, as docker prints them."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import state, until


def _machine_memory() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))


def test_stats_reads_the_cgroup_and_caps_no_limit_at_the_machine(cstore, imgtool):
    from imgtool.containers.inspect import binary_size

    lim = imgtool("run", "-d", "--name", "lim", "--memory", "64m", "busybox", "sh", "-c", "sleep 1000 & exec sleep 1000",
                  check=True).stdout.strip()
    # two processes once the shell has forked and then exec'd: `run -d` returns before it has
    # forked, when the cgroup holds the shell alone
    pid = state(cstore, lim)["pid"]
    until(lambda: Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00", what="the exec")
    imgtool("run", "-d", "--name", "free", "busybox", "sleep", "1000", check=True)
    rows = {}
    for line in imgtool("stats", "--no-stream", "--format", "json", check=True).stdout.splitlines():
        row = json.loads(line)
        rows[row["Name"]] = row
    assert set(rows) == {"lim", "free"}, rows
    assert rows["lim"]["MemUsage"].endswith(" / 64MiB") and rows["lim"]["PIDs"] == "2", rows["lim"]
    # no limit: dockerd shows the machine's memory, never the cgroup's "unlimited" number
    assert rows["free"]["MemUsage"].endswith(" / " + binary_size(_machine_memory())), rows["free"]
    assert float(rows["free"]["MemPerc"].rstrip("%")) < 100.0 and rows["free"]["PIDs"] == "1"
    table = imgtool("stats", "--no-stream", "lim", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and len(table) == 2, table
    imgtool("rm", "-f", "lim", "free", check=True)
