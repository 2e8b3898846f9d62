"""Runtime benchmarks, side by side in one run (docs/benchmarks.md "Runtime").

- unpack: a ~200 MB single-layer image and a 20,000-file image, `imgtool unpack` (API) vs
  `umoci unpack` vs `tar xzf` of the same gzip layer blob;
- start-to-exit of /bin/true (busybox `true`) on the same bundle: imgtool's runtime (API and CLI)
  vs `runc run` vs `crun run` (crun wrapped in `unshare -m` on hybrid cgroup hosts), 20 runs each.

Run as root: python bench/runtime.py [--runs 20]. Prints a markdown table of medians and ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from imgtool.oci.config import ContainerConfig
from imgtool.runtime import lifecycle
from imgtool.runtime.oci_runtime import command
from imgtool.runtime.unpack import unpack_image
from imgtool.store import Store, rootfs

REPO = Path(__file__).resolve().parents[1]


def _tarball(path: Path, files: int, size: int) -> None:
    """A rootfs tarball of `files` files of `size` bytes (half random, half text: realistic ratio)."""
    rnd = os.urandom(size // 2)
    text = (b"imgtool benchmark line\n" * (size // 46 + 1))[: size - len(rnd)]
    payload = rnd + text
    with tarfile.open(path, "w") as tar:
        for i in range(files):
            info = tarfile.TarInfo(f"d{i // 500}/f{i}")
            info.size = len(payload)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))


def _timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_unpack(store: Store, name: str, work: Path, runs: int) -> dict[str, float]:
    image = store.resolve(name)
    blob = store.blob_path(image.layers[0].digest)
    out: dict[str, float] = {}

    def fresh(tag: str) -> Path:
        d = work / f"{tag}-{time.monotonic_ns()}"
        return d

    def ours():
        d = fresh("ours")
        unpack_image(store, name, d)
        shutil.rmtree(d)

    def umoci():
        d = fresh("umoci")
        subprocess.run(["umoci", "unpack", "--image", f"{store.path}:{name}", str(d)], check=True,
                       capture_output=True)
        shutil.rmtree(d)

    def tar():
        d = fresh("tar")
        d.mkdir()
        subprocess.run(["tar", "xzf", str(blob), "-C", str(d)], check=True)
        shutil.rmtree(d)

    out["imgtool unpack"] = _timed(ours, runs)
    if shutil.which("umoci"):
        out["umoci unpack"] = _timed(umoci, runs)
    out["tar xzf"] = _timed(tar, runs)
    return out


def bench_start(store: Store, work: Path, runs: int) -> dict[str, float]:
    bundle = work / "bundle"
    unpack_image(store, "busybox", bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(spec))
    counter = iter(range(10**6))
    out: dict[str, float] = {}
    out["imgtool (API)"] = _timed(lambda: lifecycle.run(f"bench-{next(counter)}", bundle), runs)
    out["imgtool runtime run (CLI)"] = _timed(lambda: subprocess.run(
        [sys.executable, "-m", "imgtool", "runtime", "run", "--bundle", str(bundle), f"bench-{next(counter)}"],
        check=True), runs)
    for runtime in ("runc", "crun"):
        if shutil.which(runtime):
            out[f"{runtime} run"] = _timed(lambda r=runtime: subprocess.run(
                command(r, "run", "--bundle", str(bundle), f"bench-{next(counter)}"), check=True,
                stdin=subprocess.DEVNULL), runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--unpack-runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        store = Store.open(work / "store")
        config = ContainerConfig(env=("PATH=/usr/sbin:/usr/bin:/sbin:/bin",), cmd=("sh",))
        subprocess.run([str(REPO / "dockerfiles/base/busybox-rootfs.sh"), str(work / "bb.tar")], check=True,
                       capture_output=True)
        for name, (files, size) in {"big": (20, 10 << 20), "many": (20000, 2048)}.items():
            _tarball(work / f"{name}.tar", files, size)
        for name in ("bb", "big", "many"):
            with open(work / f"{name}.tar", "rb") as f:
                rootfs.import_rootfs(store, f, [{"bb": "busybox"}.get(name, name)], f"{name}.tar", config=config)
        rows = []
        for name, label in (("big", "unpack 200 MB layer"), ("many", "unpack 20,000-file layer")):
            res = bench_unpack(store, name, work, args.unpack_runs)
            base = res.get("umoci unpack")
            for tool, t in res.items():
                rows.append((label, tool, t, t / base if base else float("nan")))
        res = bench_start(store, work, args.runs)
        base = res.get("runc run")
        for tool, t in res.items():
            rows.append(("start-to-exit /bin/true", tool, t, t / base if base else float("nan")))
    print("| case | tool | median (s) | ratio vs reference |")
    print("|---|---|---|---|")
    for case, tool, t, ratio in rows:
        print(f"| {case} | {tool} | {t:.3f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
