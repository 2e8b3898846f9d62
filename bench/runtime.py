"""Runtime benchmarks, side by side in one run (docs/benchmarks.md "Runtime").

- unpack (`--only unpack`): a ~200 MB single-layer image and a 20,000-file image: `imgtool unpack`
  from the CLI, cold and warm, vs `umoci unpack` the same way; then in-process (`unpack_image`) vs
  `umoci unpack` vs `tar xzf` of the same gzip layer blob; rounds interleave the tools;
- start-to-exit of /bin/true (busybox `true`) on the same bundle: imgtool's runtime (API and CLI)
  vs `runc run` vs `crun run` (crun wrapped in `unshare -m` on hybrid cgroup hosts), 20 runs each;
- containers (`--only containers`): `imgtool run --rm busybox true` and `run -d -p` until the port
  answers, against `podman run` with runc (slirp4netns for the published port, as imgtool's).

Run as root: python bench/runtime.py [--runs 20]. Prints a markdown table of medians and ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from imgtool.oci.config import ContainerConfig
from imgtool.runtime import launcher, lifecycle
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


def _evict(path: Path) -> None:
    """Drop one file's pages from the page cache (POSIX_FADV_DONTNEED), so the next read of it is
    cold without dropping the whole shared machine's caches."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)  # dirty pages are not dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _rounds(tools: dict, runs: int) -> dict[str, float]:
    """Median seconds per tool, the tools interleaved round by round so load changes hit them alike."""
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    for _ in range(runs):
        for tool, fn in tools.items():
            times[tool].append(fn())
    return {tool: statistics.median(ts) for tool, ts in times.items()}


def bench_unpack(store: Store, name: str, out: Path, runs: int) -> dict[str, float]:
    """`unpack_image` in-process (no interpreter start-up) vs `umoci unpack` vs `tar xzf` of the same
    blob, page cache warm. Outputs stay until the caller deletes them all (see `bench_unpack_cli`)."""
    image = store.resolve(name)
    blob = store.blob_path(image.layers[0].digest)

    def timed(argv_or_fn) -> float:
        d = out / f"{time.monotonic_ns()}"
        t = time.perf_counter()
        if callable(argv_or_fn):
            argv_or_fn(d)
        else:
            d.mkdir()
            subprocess.run([*argv_or_fn, str(d)], check=True, capture_output=True)
        return time.perf_counter() - t

    tools = {"imgtool unpack": lambda: timed(lambda d: unpack_image(store, name, d))}
    if shutil.which("umoci"):
        tools["umoci unpack"] = lambda: timed(lambda d: subprocess.run(
            ["umoci", "unpack", "--image", f"{store.path}:{name}", str(d)], check=True, capture_output=True))
    tools["tar xzf"] = lambda: timed(["tar", "xzf", str(blob), "-C"])
    return _rounds(tools, runs)


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


def bench_runc_calls(store: Store, work: Path, runs: int) -> list[tuple[str, str, float, str]]:
    """What an orchestrator pays per container: `create`+`start`+`delete` of /bin/true, and one
    `state`, through each runtime's CLI with its own --root; rounds interleave the tools so load on
    the machine hits them alike."""
    bundle = work / "calls-bundle"
    unpack_image(store, "busybox", bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(spec))
    installed = shutil.which("imgtool-runc")
    if installed is None:  # no install on the PATH: the launcher scripts/setup.sh would install
        installed = launcher.write(str(work / "imgtool-runc"))
    with open(installed) as f:
        kind = "-IS launcher" if f.readline().rstrip().endswith(" -IS") else "pip console script"
    tools = {f"imgtool-runc ({kind}: {installed})": lambda *a: [installed, *a]}
    for name in ("runc", "crun"):
        if shutil.which(name):
            tools[name] = lambda *a, n=name: command(n, *a)
    cycle: dict[str, list[float]] = {t: [] for t in tools}
    state: dict[str, list[float]] = {t: [] for t in tools}
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    for i in range(runs):
        for j, (tool, argv) in enumerate(tools.items()):
            root = ("--root", str(work / f"root-{j}"))
            cid = f"bench-{i}"
            t = time.perf_counter()
            subprocess.run(argv(*root, "create", "--bundle", str(bundle), cid), check=True, **quiet)
            subprocess.run(argv(*root, "start", cid), check=True, **quiet)
            subprocess.run(argv(*root, "delete", "--force", cid), check=True, **quiet)
            cycle[tool].append(time.perf_counter() - t)
            subprocess.run(argv(*root, "create", "--bundle", str(bundle), cid), check=True, **quiet)
            t = time.perf_counter()
            subprocess.run(argv(*root, "state", cid), check=True, **quiet)
            state[tool].append(time.perf_counter() - t)
            subprocess.run(argv(*root, "delete", "--force", cid), check=True, **quiet)
    rows = []
    for case, table in (("create+start+delete /bin/true", cycle), ("state", state)):
        base = statistics.median(table["runc"]) if "runc" in table else float("nan")
        for tool, times in table.items():
            rows.append((case, tool, statistics.median(times), f"{statistics.median(times) / base:.2f}x"))
    return rows


def bench_unpack_cli(store: Store, name: str, out: Path, runs: int) -> dict[str, float]:
    """`imgtool unpack` from the CLI (interpreter start-up included) against `umoci unpack`, cold and
    warm, interleaved. Cold: the layer blob evicted from the page cache before the run, and no
    snapshot (`imgtool unpack` never makes one); warm: the blob cached, the image unpacked before.

    Why outputs are deleted only after all rounds: this machine's ext4 has no journal, and there
    ext4 skips every inode freed in the last 60-300 s when it allocates one (`recently_deleted()`),
    one buffer lookup each. Deleting a 20,000-file rootfs right before the next run made that run's
    file creations several times slower, so each tool was charged for the other's clean-up.
    """
    blob = store.blob_path(store.resolve(name).layers[0].digest)
    env = dict(os.environ, IMGTOOL_ROOT=str(store.path))
    argv = {"imgtool unpack": [sys.executable, "-m", "imgtool", "unpack", "-q", name],
            "umoci unpack": ["umoci", "unpack", "--image", f"{store.path}:{name}"]}
    if not shutil.which("umoci"):
        del argv["umoci unpack"]

    def run(tool: str, cold: bool) -> float:
        if cold:
            _evict(blob)
        d = out / f"cli-{time.monotonic_ns()}"
        t = time.perf_counter()
        subprocess.run([*argv[tool], str(d)], check=True, env=env, capture_output=True)
        return time.perf_counter() - t

    tools = {f"{tool}, {kind}": (lambda tool=tool, cold=(kind == "cold"): run(tool, cold))
             for kind in ("cold", "warm") for tool in argv}
    return _rounds(tools, runs)


def unpack_rows(store: Store, work: Path, runs: int) -> list[tuple[str, str, float, str]]:
    """The unpack rows, CLI then API for each image, each also printed to stderr as soon as it is
    known. The big image's outputs are deleted before the 20,000-file rounds (few inodes, and the
    disk space); the 20,000-file outputs stay until the work directory goes (`bench_unpack_cli`)."""
    rows = []
    for name, label in (("big", "unpack 200 MB layer"), ("many", "unpack 20,000-file layer")):
        out = work / f"out-{name}"
        out.mkdir()
        for suffix, res in ((" (CLI)", bench_unpack_cli(store, name, out, runs)), ("", bench_unpack(store, name, out, runs))):
            for tool, t in res.items():
                kind = tool.partition(", ")[2]
                base = res.get(f"umoci unpack, {kind}" if kind else "umoci unpack")
                rows.append((label + suffix, tool, t, f"{t / base:.2f}x" if base else "nan"))
                print(f"{rows[-1][0]} | {tool} | {t:.3f} | {rows[-1][3]} (load {os.getloadavg()[0]:.1f})",
                      file=sys.stderr, flush=True)
        if name == "big":
            shutil.rmtree(out)
    return rows


PODMAN_LIMITS = ("--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def _answering(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /passwd HTTP/1.0\r\n\r\n")
                if s.recv(64)[8:13] == b" 200 ":
                    return
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"nothing answered on port {port}")


def bench_containers(store: Store, work: Path, runs: int) -> list[tuple[str, str, float, str]]:
    """`run --rm true` and `run -d -p` until the port answers: imgtool's CLI vs `podman run` (runc,
    private vfs storage, cgroupfs, limits this sandbox allows; tests/registry/test_interop.py)."""
    if not shutil.which("podman"):
        return []
    runroot = tempfile.mkdtemp(prefix="prun-", dir="/tmp")  # podman caps the runroot path at 50 chars
    podman = ["podman", "--root", str(work / "proot"), "--runroot", runroot, "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    ours = [sys.executable, "-m", "imgtool"]
    env = {**os.environ, "IMGTOOL_ROOT": str(store.path)}
    subprocess.run([*podman, "import", str(work / "bb.tar"), "busybox:latest"], check=True, capture_output=True)
    # an installed imgtool has bytecode (pip compiles it); a checkout run with PYTHONDONTWRITEBYTECODE
    # would otherwise recompile every module on each CLI call
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "imgtool")], check=True)

    def call(argv: list[str]) -> str:
        return subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout.strip()

    def serve(run: list[str], rm: list[str]) -> float:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.perf_counter()
        cid = call([*run, "-p", f"127.0.0.1:{port}:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"])
        try:
            _answering(port)
            return time.perf_counter() - started
        finally:  # a container outlives this script unless removed (its store is a temp dir)
            call([*rm, cid])

    tools = {
        "run --rm /bin/true": {
            "imgtool run": lambda: call([*ours, "run", "--rm", "--network", "none", "busybox", "true"]),
            "podman run": lambda: call([*podman, "run", "--rm", "--network", "none", *PODMAN_LIMITS, "busybox", "true"])},
        "run -d -p, until the port answers": {
            "imgtool run": lambda: serve([*ours, "run", "-d"], [*ours, "rm", "-f"]),
            "podman run": lambda: serve([*podman, "run", "-d", "--network", "slirp4netns", *PODMAN_LIMITS],
                                        [*podman, "rm", "-f"])},
    }
    rows = []
    try:
        for case, fns in tools.items():
            times = {tool: [] for tool in fns}
            for _ in range(runs):  # interleaved, so load changes hit both tools alike
                for tool, fn in fns.items():
                    t = time.perf_counter()
                    took = fn()
                    times[tool].append(took if isinstance(took, float) else time.perf_counter() - t)
            base = statistics.median(times["podman run"])
            rows += [(case, tool, statistics.median(ts), f"{statistics.median(ts) / base:.2f}x") for tool, ts in times.items()]
    finally:
        subprocess.run([*podman, "rm", "-af"], capture_output=True)
        shutil.rmtree(runroot, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--unpack-runs", type=int, default=5)
    parser.add_argument("--only", choices=("calls", "unpack", "containers", "all"), default="all",
                        help="calls: the imgtool-runc rows only; unpack: the unpack rows only; "
                             "containers: run --rm / run -d -p against podman")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        store = Store.open(work / "store")
        config = ContainerConfig(env=("PATH=/usr/sbin:/usr/bin:/sbin:/bin",), cmd=("sh",))
        images = {"unpack": ("big", "many"), "calls": ("bb",), "containers": ("bb",)}.get(args.only, ("bb", "big", "many"))
        if "bb" in images:
            subprocess.run([str(REPO / "dockerfiles/base/busybox-rootfs.sh"), str(work / "bb.tar")], check=True,
                           capture_output=True)
        for name, (files, size) in {"big": (20, 10 << 20), "many": (20000, 2048)}.items():
            if name in images:
                _tarball(work / f"{name}.tar", files, size)
        for name in images:
            with open(work / f"{name}.tar", "rb") as f:
                rootfs.import_rootfs(store, f, [{"bb": "busybox"}.get(name, name)], f"{name}.tar", config=config)
        rows = []
        if args.only in ("unpack", "all"):
            rows += unpack_rows(store, work, args.unpack_runs)
        if args.only == "all":
            res = bench_start(store, work, args.runs)
            base = res.get("runc run")
            for tool, t in res.items():
                rows.append(("start-to-exit /bin/true", tool, t, f"{t / base:.2f}x" if base else "nan"))
        if args.only in ("calls", "all"):
            rows += bench_runc_calls(store, work, args.runs)
        if args.only in ("containers", "all"):
            rows += bench_containers(store, work, args.runs)
        # printed before the work directory goes: deleting unpacked trees takes minutes on this disk
        print("| case | tool | median (s) | ratio vs reference |")
        print("|---|---|---|---|")
        for case, tool, t, ratio in rows:
            print(f"| {case} | {tool} | {t:.3f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
