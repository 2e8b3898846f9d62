"""CLI start-up, side by side in one run (docs/benchmarks.md "CLI start-up").

What a user feels on every command before any work starts: `imgtool --help` and `imgtool images`
on an empty store, against `podman --help` / `podman images` (its own temporary root) and
`skopeo --help`. Median wall time of --runs runs each; ratio = imgtool / reference (target <= 3x
podman's).

Run: python bench/cli.py [--runs 15]. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _median(argv: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(argv, capture_output=True, env=env, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure each pair in the same run, so machine load moves both sides alike."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {**os.environ, "IMGTOOL_ROOT": os.path.join(tmp, "store")}
        imgtool = shutil.which("imgtool") or ""
        base = [imgtool] if imgtool else [sys.executable, "-m", "imgtool"]
        podman = ["podman", "--root", os.path.join(tmp, "podman"), "--runroot", os.path.join(tmp, "run"),
                  "--storage-driver", "vfs"]
        rows = [
            ("imgtool --help", base + ["--help"], "podman --help", podman + ["--help"]),
            ("imgtool images", base + ["images"], "podman images", podman + ["images"]),
            ("imgtool --help", base + ["--help"], "skopeo --help", ["skopeo", "--help"]),
        ]
        print(f"entry point: {' '.join(base)}; {args.runs} runs each, median\n")
        print("| imgtool | time | reference | time | ratio (imgtool/ref) |")
        print("|---|---|---|---|---|")
        for name, argv, ref_name, ref_argv in rows:
            ours = _median(argv, args.runs, env)
            theirs = _median(ref_argv, args.runs, env)
            print(f"| `{name}` | {ours * 1000:.0f} ms | `{ref_name}` | {theirs * 1000:.0f} ms | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
