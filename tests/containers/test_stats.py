"""`stats --no-stream`: figures from each running container's cgroup, as docker prints them."""

from __future__ import annotations

import json


def _machine_memory() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))


def test_stats_reads_the_cgroup_and_caps_no_limit_at_the_machine(cstore, imgtool):
    from imgtool.containers.inspect import binary_size

    imgtool("run", "-d", "--name", "lim", "--memory", "64m", "busybox", "sh", "-c", "sleep 1000 & exec sleep 1000",
            check=True)
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
