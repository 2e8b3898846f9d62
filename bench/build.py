#!/usr/bin/env python3
"""Build times side by side: imgtool build, docker build (BuildKit) and buildah bud, same contexts.

    python3 bench/build.py [--runs 3] [--only simple,bigcopy] [--modes cached] [--tools imgtool,docker]
    python3 bench/build.py --tools imgtool,imgtool@/path/to/other/checkout,docker   # an A/B in one run

Scenarios (contexts generated in a temp dir, all FROM the same busybox image):
- simple:      WORKDIR, COPY of a small app, RUN, ENV, CMD
- multistage:  a RUN generates 2,000 files from a script in the context, the final stage COPY --from
- bigcopy:     COPY of a 20,000-file tree
- secret-leak: dockerfiles/secret-leak/leak (ADD a key, RUN uses and removes it)
Modes: cold (empty build cache, base image present), cached (the same build again), changed (one
source file edited, then rebuilt). "Base image present" is each tool's own state after it loaded
the image and its build cache was pruned: docker's `load` and buildah's `pull` unpack the layers,
and `docker builder prune -af` keeps them; imgtool unpacks a layer when a step first needs it, so
its template store has built once and run `imgtool builder prune` (which keeps images' snapshots). Each cell is the median of --runs wall times of the whole CLI.
docker is Debian's docker.io (/usr/bin/docker, DOCKER_BUILDKIT=1) on a private dockerd started
here as the tests start theirs (tests/dockerd.py); buildah runs with its own --root. The table gives
imgtool's time ratio to each (<= 1.0x docker and <= 0.5x buildah are the targets, issue 8).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.dockerd import Dockerd  # noqa: E402

MODES = ("cold", "cached", "changed")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def simple(ctx: Path) -> Path:
    for i in range(20):
        _write(ctx / f"app/module{i}.txt", f"module {i}\n" * 50)
    _write(ctx / "Dockerfile", "FROM busybox\nWORKDIR /app\nCOPY app/ ./\n"
           "RUN cat module*.txt | wc -l > lines\nENV MODE=production\nCMD [\"cat\", \"lines\"]\n")
    return ctx / "app/module7.txt"


def multistage(ctx: Path) -> Path:
    _write(ctx / "gen.sh", "mkdir -p /out\ni=0\nwhile [ $i -lt 2000 ]; do echo \"file $i\" > /out/f$i; i=$((i+1)); done\n")
    _write(ctx / "Dockerfile", "FROM busybox AS gen\nCOPY gen.sh /gen.sh\nRUN sh /gen.sh\n\n"
           "FROM busybox\nCOPY --from=gen /out /data\nCMD [\"ls\", \"/data\"]\n")
    return ctx / "gen.sh"


def bigcopy(ctx: Path) -> Path:
    for d in range(200):
        for f in range(100):
            _write(ctx / f"tree/d{d:03}/f{f:03}.txt", f"{d} {f} " + "x" * (50 + (d * f) % 400) + "\n")
    _write(ctx / "Dockerfile", "FROM busybox\nCOPY tree /tree\n")
    return ctx / "tree/d100/f050.txt"


def secret_leak(ctx: Path) -> Path:
    shutil.copy(REPO / "dockerfiles/secret-leak/leak/Dockerfile", ctx / "Dockerfile")
    (ctx / "deploy_key").write_text(f"bench-key-{secrets.token_hex(16)}\n")
    return ctx / "deploy_key"


SCENARIOS = {"simple": simple, "multistage": multistage, "bigcopy": bigcopy, "secret-leak": secret_leak}


def _run(argv: list, env: dict | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], capture_output=True, env=env, cwd=cwd, timeout=900)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                           f"{proc.stdout.decode(errors='replace')[-2000:]}{proc.stderr.decode(errors='replace')[-2000:]}")
    return took


class Imgtool:
    """imgtool from this checkout, or (`name` imgtool@DIR) from another one: an A/B in one run."""

    def __init__(self, work: Path, rootfs: Path, repo: Path = REPO, name: str = "imgtool", tag: str = ""):
        self.name = name
        self.template = work / f"imgtool-template{tag}"
        self.env = {**os.environ, "PYTHONPATH": str(repo), "IMGTOOL_ROOT": str(self.template)}
        _run([sys.executable, "-m", "imgtool", "import", rootfs, "-t", "busybox:latest",
              "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "--change", 'CMD ["sh"]'], env=self.env)
        warm = work / f"warm-up{tag}"  # unpack the base as a first build does; then prune the cache
        _write(warm / "Dockerfile", "FROM busybox\nRUN true\n")
        for argv in (["build", "-q", "--network", "host", "-t", "warm-up", warm], ["rmi", "warm-up"],
                     ["builder", "prune", "-f"]):
            _run([sys.executable, "-m", "imgtool", *argv], env=self.env)
        shutil.rmtree(warm)
        self.root = work / f"imgtool-store{tag}"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(self.template, self.root, symlinks=True)
        self.env["IMGTOOL_ROOT"] = str(self.root)

    def build(self, ctx: Path, tag: str) -> float:
        return _run([sys.executable, "-m", "imgtool", "build", "-q", "--network", "host", "-t", tag, ctx],
                    env=self.env)

    def close(self) -> None:
        pass


class Docker:
    name = "docker"

    def __init__(self, work: Path, archive: Path):
        self.daemon = Dockerd().start()
        self.daemon.docker("load", "-i", archive)

    def reset(self) -> None:
        self.daemon.docker("builder", "prune", "-af")

    def build(self, ctx: Path, tag: str) -> float:
        return _run(["/usr/bin/docker", "build", "-q", "--network", "host", "-t", tag, ctx],
                    env={**os.environ, **self.daemon.env})

    def close(self) -> None:
        self.daemon.stop()


class Buildah:
    name = "buildah"

    def __init__(self, work: Path, archive: Path):
        self.work = work
        self.archive = archive
        self.n = 0
        self.root: Path | None = None

    def _argv(self, *args) -> list:
        return ["buildah", "--root", self.root / "root", "--runroot", self.root / "run",
                "--storage-driver", "overlay", *args]

    def reset(self) -> None:
        self.close()
        self.n += 1
        self.root = self.work / f"buildah-{self.n}"
        _run(self._argv("pull", "-q", f"docker-archive:{self.archive}"))

    def build(self, ctx: Path, tag: str) -> float:
        return _run(self._argv("bud", "-q", "--layers", "--pull=never", "--runtime", "runc", "--network", "host", "-t", tag, ctx))

    def close(self) -> None:
        if self.root is not None:
            subprocess.run(self._argv("rm", "--all"), capture_output=True)
            subprocess.run(self._argv("rmi", "--all", "--force"), capture_output=True)
            subprocess.run(["umount", "-R", "-l", self.root / "root" / "overlay"], capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)


def measure(tools: list, scenario: str, work: Path, runs: int, modes: tuple[str, ...]) -> dict:
    """Median seconds per (tool, mode): each run starts from an empty cache in a fresh context copy.

    Tools take turns within each run (imgtool, docker, buildah, imgtool, ...), so a burst of load
    on a shared machine hits every tool's figures alike instead of one tool's whole series. Modes
    not asked for still run (a cached build needs the cold one before it) but are not timed.
    """
    times: dict[tuple[str, str], list[float]] = {(t.name, m): [] for t in tools for m in modes}
    for run in range(runs):
        for i, tool in enumerate(tools):
            ctx = work / f"ctx-{i}-{scenario}-{run}"
            shutil.rmtree(ctx, ignore_errors=True)
            ctx.mkdir()
            changing = SCENARIOS[scenario](ctx)
            tag = f"bench-{scenario}:latest"
            tool.reset()
            for mode in MODES:
                if mode == "changed":
                    with open(changing, "a") as f:
                        f.write(f"# changed {run}\n")
                took = tool.build(ctx, tag)
                if mode in modes:
                    times[(tool.name, mode)].append(took)
                if mode == modes[-1]:
                    break
            shutil.rmtree(ctx)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--modes", default=",".join(MODES), help="cold,cached,changed (a subset)")
    parser.add_argument("--tools", default="imgtool,docker,buildah")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    modes = tuple(m for m in MODES if m in args.modes.split(","))
    if not modes or set(args.modes.split(",")) - set(MODES):
        parser.error(f"--modes {args.modes!r}: a comma-separated subset of {','.join(MODES)}")
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]), flush=True)
    load_before = os.getloadavg()
    # as installed: pip byte-compiles a package, so imgtool's start does not include compiling it
    # (this machine sets PYTHONDONTWRITEBYTECODE, which would make every run compile every module)
    subprocess.run([sys.executable, "-m", "compileall", "-q", REPO / "imgtool"], check=True)
    work = Path(tempfile.mkdtemp(prefix="bench-build-", dir=args.workdir))
    rootfs, archive = work / "busybox-rootfs.tar", work / "busybox-docker.tar"
    subprocess.run([REPO / "dockerfiles/base/busybox-rootfs.sh", rootfs], check=True)
    tools = []
    try:
        imgtool = Imgtool(work, rootfs)
        _run([sys.executable, "-m", "imgtool", "save", "busybox:latest", "--format", "docker", "-o", archive],
             env=imgtool.env)
        wanted = args.tools.split(",")
        others = [Imgtool(work, rootfs, Path(t.split("@", 1)[1]).resolve(), t, f"-{i}")
                  for i, t in enumerate(wanted) if t.startswith("imgtool@")]
        for other in others:
            subprocess.run([sys.executable, "-m", "compileall", "-q", Path(other.env["PYTHONPATH"]) / "imgtool"], check=True)
        tools = (([imgtool] if "imgtool" in wanted else []) + others
                 + ([Docker(work, archive)] if "docker" in wanted else [])
                 + ([Buildah(work, archive)] if "buildah" in wanted else []))
        results = {s: measure(tools, s, work, args.runs, modes) for s in args.only.split(",")}
    finally:
        for t in tools:
            t.close()
        shutil.rmtree(work, ignore_errors=True)
    names = [t.name for t in tools]
    others = [n for n in names if n != "imgtool"] if "imgtool" in names else []
    header = ["scenario", "mode", *names, *(f"imgtool/{n}" for n in others)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for s in args.only.split(","):
        for m in modes:
            cells = [f"{results[s][(n, m)]:.2f}s" for n in names]
            ratios = [f"{results[s][('imgtool', m)] / results[s][(n, m)]:.2f}x" for n in others]
            print("| " + " | ".join([s, m, *cells, *ratios]) + " |")
    load_after = os.getloadavg()
    print(f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
