#!/usr/bin/env python3
"""Layer codec throughput, side by side with tar + gzip on the same data in the same run.

    python3 bench/layer_codec.py [--workdir DIR] [--big-mb 200] [--files 20000] [--runs 3]

Rows:
- write: imgtool's deterministic layer writer (tar + ISA-L gzip, diff_id and digest in one pass)
  vs `tar cf - -C DIR . | gzip -6`; sizes compared too.
- read: imgtool's layer reader (decompress, validate names, read every byte, diff_id)
  vs `tar xzf` into a directory (the issue's reference) and vs `tar xzOf >/dev/null` (the same work
  as ours: no files written).
- gzip backend: the tar stream of each data set through ISA-L, zlib-ng and zlib, for the choice of
  backend documented in docs/benchmarks.md.
Reports medians of --runs and ratios (reference time / imgtool time for speed: > 1 means faster).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from isal import isal_zlib  # noqa: E402
from zlib_ng import zlib_ng  # noqa: E402

from imgtool.layer import entries, writer  # noqa: E402
from imgtool.layer.reader import LayerReader  # noqa: E402


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_big(root: Path, mb: int) -> None:
    root.mkdir(parents=True)
    with open(root / "random.bin", "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))


def make_tree(root: Path, files: int) -> None:
    """Source-tree-like data: 20,000 files in 200 directories, text that compresses ~3-4x."""
    words = [os.urandom(4).hex() for _ in range(2000)]
    rng = __import__("random").Random(42)
    for i in range(files):
        d = root / f"pkg{i % 200:03d}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        n = rng.randint(20, 400)
        text = "\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(n // 8 + 1))
        (d / f"file{i:05d}.txt").write_text(text[: rng.randint(100, 4000)])


def imgtool_write(src: Path, out: Path) -> None:
    with open(out, "wb") as f:
        writer.write_layer(entries.from_directory(src), f, "gzip")


def tar_gzip_write(src: Path, out: Path) -> None:
    subprocess.run(f"tar cf - -C {src} . | gzip -6 > {out}", shell=True, check=True)


def imgtool_read(blob: Path) -> None:
    with open(blob, "rb") as f:
        reader = LayerReader(f)
        for member in reader:
            if member.isreg():
                body = reader.extractfile(member)
                while body.read(1 << 20):
                    pass
        reader.diff_id


def tar_extract(blob: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir()
    subprocess.run(["tar", "xzf", str(blob), "-C", str(dest)], check=True)


def tar_read_only(blob: Path) -> None:
    subprocess.run(f"tar xzOf {blob} > /dev/null", shell=True, check=True)


def backend_rows(tar_bytes: bytes, runs: int) -> list[tuple[str, float, int]]:
    rows = []
    for name, make in [
        ("isal level 1", lambda: isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)),
        ("isal level 2", lambda: isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)),
        ("isal level 3", lambda: isal_zlib.compressobj(3, isal_zlib.DEFLATED, -15)),
        ("zlib-ng level 1", lambda: zlib_ng.compressobj(1, zlib_ng.DEFLATED, -15)),
        ("zlib-ng level 6", lambda: zlib_ng.compressobj(6, zlib_ng.DEFLATED, -15)),
        ("zlib level 6", lambda: zlib.compressobj(6, zlib.DEFLATED, -15)),
    ]:
        size = 0

        def run() -> None:
            nonlocal size
            c = make()
            view = memoryview(tar_bytes)
            size = sum(len(c.compress(view[i:i + (1 << 20)])) for i in range(0, len(view), 1 << 20))
            size += len(c.flush())

        t = median_time(run, runs)
        rows.append((name, len(tar_bytes) / t / 1e6, size))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-codec-", dir=args.workdir))
    try:
        datasets = {
            f"{args.big_mb} MB incompressible file": (work / "big", lambda p: make_big(p, args.big_mb)),
            f"{args.files} files tree": (work / "tree", lambda p: make_tree(p, args.files)),
        }
        print(f"# layer codec benchmark ({os.cpu_count()} cores, median of {args.runs})\n")
        print("| data | operation | imgtool | reference | time | ratio (ref/imgtool) | sizes (imgtool / ref) |")
        print("|---|---|---|---|---|---|---|")
        backend = {}
        for label, (src, make) in datasets.items():
            make(src)
            ours, theirs = work / "ours.tgz", work / "theirs.tgz"
            t_ours = median_time(lambda: imgtool_write(src, ours), args.runs)
            t_ref = median_time(lambda: tar_gzip_write(src, theirs), args.runs)
            print(f"| {label} | write | imgtool write_layer (gzip) | tar cf - \\| gzip -6 | "
                  f"{t_ours:.2f}s vs {t_ref:.2f}s | **{t_ref / t_ours:.2f}x** | "
                  f"{ours.stat().st_size:,} / {theirs.stat().st_size:,} |")
            t_read = median_time(lambda: imgtool_read(ours), args.runs)
            t_x = median_time(lambda: tar_extract(theirs, work / "x"), args.runs)
            t_o = median_time(lambda: tar_read_only(theirs), args.runs)
            print(f"| {label} | read | imgtool LayerReader (all bytes + diff_id) | tar xzf (to disk) | "
                  f"{t_read:.2f}s vs {t_x:.2f}s | **{t_x / t_read:.2f}x** (time {t_read / t_x:.2f}x) | |")
            print(f"| {label} | read | imgtool LayerReader | tar xzOf > /dev/null | "
                  f"{t_read:.2f}s vs {t_o:.2f}s | {t_o / t_read:.2f}x | |")
            tar_bytes = subprocess.run(["tar", "cf", "-", "-C", str(src), "."], capture_output=True, check=True).stdout
            backend[label] = backend_rows(tar_bytes, args.runs)
            shutil.rmtree(src)
            shutil.rmtree(work / "x", ignore_errors=True)
        print("\n## gzip backends on the same tar streams (raw deflate, MB/s of input, output bytes)\n")
        print("| data | backend | MB/s | output bytes |")
        print("|---|---|---|---|")
        for label, rows in backend.items():
            for name, speed, size in rows:
                print(f"| {label} | {name} | {speed:.0f} | {size:,} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
