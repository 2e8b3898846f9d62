"""Client benchmark: imgtool vs skopeo pushing and pulling the registry benchmark images, same server.

    python bench/client.py [--rounds 5] [--server distribution|imgtool] [--rows 200mb 20k 10x5]
                           [--no-library] [--markdown]

Images (bench/registry.py's): one 200 MB layer, a 20,000-file layer, 10 x 5 MB layers, as OCI
layouts. Each round starts a fresh registry (fresh root and port, so neither client's blob cache can
turn uploads into mounts) and, per image and per client, times a push (`imgtool copy oci:... docker://`
vs `skopeo copy oci:... docker://`) into its own repository, then a pull of what that client pushed
(`imgtool pull` into an empty store vs `skopeo copy docker://... oci:` into an empty layout). A third
row per transfer times the same copy as a library call (imports done first, as `build --push` and
FROM use it): the transfer engine without interpreter start-up. The clients alternate order, and
the page cache's dirty pages are flushed before every timed copy (distribution does not fsync: its
writeback would otherwise land in the fsyncs of whichever client runs next). Medians over rounds;
ratio > 1 means imgtool is faster. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registry import ROWS, free_port, make_images, start_distribution, start_imgtool, wait_up  # noqa: E402
from sidebyside import print_table, ratio, table, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def imgtool_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "imgtool", *args]


# The same transfer as a library call: modules imported first, only the copy timed. It separates the
# transfer engine from interpreter start-up (what `build --push` and FROM pay: no new process).
_LIBRARY = """
import sys, time
from imgtool.remote import copy, transports, registryimage, layouts, transport  # noqa: F401
from imgtool.store import Store
import requests  # noqa: F401
src, dst = sys.argv[1], sys.argv[2]
started = time.perf_counter()
source = transports.source(src)
target = transports.destination(dst, store=Store.open(sys.argv[3]) if len(sys.argv) > 3 else None)
try:
    copy(source, target)
finally:
    target.close()
    source.close()
print(time.perf_counter() - started)
"""


def library(src: str, dst: str, env: dict[str, str], store: Path | None = None) -> float:
    os.sync()  # as `timed(..., sync=True)`: start from a clean page cache
    args = [sys.executable, "-c", _LIBRARY, src, dst] + ([str(store)] if store else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def one_round(work: Path, images: dict[str, Path], server: str, results: dict, flip: bool,
              clients: tuple[str, ...]) -> None:
    port = free_port()
    root = work / f"{server}-{port}"
    root.mkdir()
    proc = (start_imgtool if server == "imgtool" else start_distribution)(root, port)
    base_env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        wait_up(port)
        for image, layout in images.items():
            slug = image.split()[0].replace(",", "")
            for client in reversed(clients) if flip else clients:
                # each client its own blob-location cache: no mounts from another client's push
                env = {**base_env, "XDG_CACHE_HOME": str(work / f"cache-{port}-{client}")}
                ref = f"127.0.0.1:{port}/{client}/{slug}:v1"
                out = work / f"pull-{client}-{port}"
                if client == "imgtool":
                    push = timed(imgtool_cmd("copy", "-q", f"oci:{layout}:bench", f"docker://{ref}"), env, sync=True)
                    pull = timed(imgtool_cmd("pull", "-q", ref), {**env, "IMGTOOL_ROOT": str(out)}, sync=True)
                elif client == "library":
                    push = library(f"oci:{layout}:bench", f"docker://{ref}", env)
                    pull = library(f"docker://{ref}", ref, env, store=out)
                else:
                    push = timed(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                                  f"oci:{layout}:bench", f"docker://{ref}"], env, sync=True)
                    pull = timed(["skopeo", "copy", "-q", "--src-tls-verify=false",
                                  f"docker://{ref}", f"oci:{out}:bench"], env, sync=True)
                shutil.rmtree(out)
                results.setdefault((f"push {image} (s)", client), []).append(push)
                results.setdefault((f"pull {image} (s)", client), []).append(pull)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", choices=["distribution", "imgtool"], default="distribution")
    parser.add_argument("--rows", nargs="+", choices=[r for r, image in ROWS.items() if image],
                        default=[r for r, image in ROWS.items() if image], help="only these images' push and pull rows")
    parser.add_argument("--no-library", action="store_true", help="skip the library-call rows")
    parser.add_argument("--markdown", action="store_true", help="print a table for docs/benchmarks.md")
    args = parser.parse_args()
    clients = ("imgtool", "skopeo") if args.no_library else ("imgtool", "skopeo", "library")
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/client.py: {tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory(prefix="clientbench-") as tmp:
        work = Path(tmp)
        images = make_images(work, only={ROWS[r] for r in args.rows})
        results: dict = {}
        before = os.getloadavg()
        for n in range(args.rounds):
            one_round(work, images, args.server, results, flip=bool(n % 2), clients=clients)
        after = os.getloadavg()
    rows = []
    for key, ours, theirs, r in table(results, "imgtool", "skopeo"):
        rows.append((key, ours, theirs, r))
        if "library" in clients:
            lib = statistics.median(results[(key, "library")])
            rows.append((key.replace(" (s)", " (s, imgtool library call)"), lib, theirs, ratio(key, lib, theirs)))
    print(f"load average (1/5/15 min): {before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f} before, "
          f"{after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f} after; {args.rounds} rounds")
    print_table(rows, ("imgtool", "skopeo 1.9"), args.markdown, first=f"row (server: {args.server})")


if __name__ == "__main__":
    main()
