"""Timing and reporting shared by the side-by-side benchmarks (bench/registry.py, bench/client.py).

Both time whole commands of imgtool and of a reference tool, keep every sample per (row, tool), and
print medians with a ratio where > 1 always means imgtool is faster: for a time that is the
reference's time over imgtool's, for a rate (a row named "... (req/s)") imgtool's over the
reference's. One place, so the two tables mean the same thing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

Results = dict[tuple[str, str], list[float]]  # (row, tool) -> samples


def timed(cmd: list[str], env: dict[str, str] | None = None, sync: bool = False) -> float:
    """Wall-clock seconds of `cmd` (which must succeed). `sync` first flushes the page cache's dirty
    pages, so a tool that does not fsync does not have its writeback land in the next measurement."""
    if sync:
        os.sync()
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def ratio(row: str, ours: float, theirs: float) -> float:
    """> 1 when imgtool is faster: rates compare directly, times inversely."""
    return ours / theirs if row.endswith("(req/s)") else theirs / ours


def table(results: Results, ours: str, theirs: str) -> list[tuple[str, float, float, float]]:
    """(row, median of `ours`, median of `theirs`, ratio) for every row both tools have, in order."""
    rows = []
    for row in dict.fromkeys(key for key, _ in results):
        if (row, ours) in results and (row, theirs) in results:
            a, b = statistics.median(results[(row, ours)]), statistics.median(results[(row, theirs)])
            rows.append((row, a, b, ratio(row, a, b)))
    return rows


def print_table(rows: list[tuple[str, float, float, float]], names: tuple[str, str], markdown: bool,
                first: str = "row") -> None:
    """The rows as a docs/benchmarks.md table (`markdown`) or as aligned text for a terminal."""
    if markdown:
        print(f"| {first} | {names[0]} | {names[1]} | ratio |\n|---|---:|---:|---:|")
        for row, a, b, r in rows:
            print(f"| {row} | {a:.2f} | {b:.2f} | {r:.2f}x |")
    else:
        for row, a, b, r in rows:
            print(f"{row:40} {names[0]} {a:10.2f}  {names[1]} {b:10.2f}  ratio {r:5.2f}x")
