"""CLI start-up, side by side in one run (docs/benchmarks.md "CLI start-up").

What a user feels on every command before any work starts: `imgtool --help` and `imgtool images`
on an empty store, against `podman --help` / `podman images` (its own temporary root) and
`skopeo --help`. Each pair runs interleaved (imgtool, reference, imgtool, ...), so machine load moves
both sides alike; the table gives the median wall time and the median CPU time (user + system of
the child) of --runs runs each; ratio = imgtool / reference, by wall time (target <= 3x podman's).
CPU time is printed too because it moves less than wall time when the machine is shared.

Run: python bench/cli.py [--runs 15] [--rows help,images,skopeo]. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu, start = _child_cpu(), time.perf_counter()
    subprocess.run(argv, capture_output=True, env=env, check=True)
    return time.perf_counter() - start, _child_cpu() - cpu


def _pair(ours: list[str], theirs: list[str], runs: int, env: dict[str, str]) -> list[tuple[float, float]]:
    """(median wall, median CPU) of each side, the runs interleaved; one warm-up run each."""
    samples: list[list[tuple[float, float]]] = [[], []]
    for argv in (ours, theirs):
        _once(argv, env)  # warm the page cache (and create the empty stores)
    for _ in range(runs):
        for side, argv in enumerate((ours, theirs)):
            samples[side].append(_once(argv, env))
    return [(statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for s in samples]


def main() -> None:
    """Print the table for the rows asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rows", default="help,images,skopeo", help="comma-separated: help, images, skopeo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {**os.environ, "IMGTOOL_ROOT": os.path.join(tmp, "store")}
        imgtool = shutil.which("imgtool") or ""
        base = [imgtool] if imgtool else [sys.executable, "-m", "imgtool"]
        podman = ["podman", "--root", os.path.join(tmp, "podman"), "--runroot", os.path.join(tmp, "run"),
                  "--storage-driver", "vfs"]
        rows = {
            "help": ("imgtool --help", base + ["--help"], "podman --help", podman + ["--help"]),
            "images": ("imgtool images", base + ["images"], "podman images", podman + ["images"]),
            "skopeo": ("imgtool --help", base + ["--help"], "skopeo --help", ["skopeo", "--help"]),
        }
        wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in rows]
        if unknown:
            parser.error(f"unknown rows {', '.join(unknown)} (help, images, skopeo)")
        print(f"entry point: {' '.join(base)}; {args.runs} runs each, interleaved, median; "
              f"load average {os.getloadavg()[0]:.1f}\n")
        print("| imgtool | wall | CPU | reference | wall | CPU | ratio (imgtool/ref, wall) |")
        print("|---|---|---|---|---|---|---|")
        for key in wanted:
            name, argv, ref_name, ref_argv = rows[key]
            (ours, ours_cpu), (theirs, theirs_cpu) = _pair(argv, ref_argv, args.runs, env)
            print(f"| `{name}` | {ours * 1000:.0f} ms | {ours_cpu * 1000:.0f} ms | `{ref_name}` | "
                  f"{theirs * 1000:.0f} ms | {theirs_cpu * 1000:.0f} ms | {ours / theirs:.2f}x |")
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
