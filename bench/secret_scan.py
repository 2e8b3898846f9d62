#!/usr/bin/env python3
"""Secret scanning, side by side: imgtool (from the image) vs detect-secrets (on the extracted layers).

    python3 bench/secret_scan.py [--workdir DIR] [--noise 1500] [--runs 1] [--corpus planted|wide|both]

The image is the planted corpus of tests/inspect (every rule family, placed visible / overwritten /
deleted / deleted-opaque / only in Env, Labels or history, plus decoys), with `--corpus both` (the
default) also the wide corpus's files and decoys (tests/inspect/wide.py: ~150 plants of 60+
families in the files, encodings, archives and key containers real images hold), and a layer of real text
as noise: `--noise` source files of this Python's standard library, under /srv/lib (a path no
allowlist knows), so every finding there counts against the scanner's precision.

- imgtool: `imgtool inspect --secrets --format json IMAGE`, the whole CLI run, streamed from the store.
- detect-secrets 1.5.0 (PyPI, installed into a throwaway venv here, not a project dependency):
  every layer's regular files extracted to DIR/layer-<i>/ (later-deleted files included), Env as
  env.env, Labels as labels.env and every history line in history.txt; then
  `detect-secrets scan --all-files DIR` (without --all-files a non-git directory yields nothing).
  Only the scan is timed, not the extraction.
- trivy: used when a `trivy` binary is on PATH (`trivy image --scanners secret --image-config-scanners
  secret --input ARCHIVE`); Debian 12 has no package and this machine no network, so usually skipped.

Scoring is by location, one per (layer, path, line) or (config field) or (history line): a
reported location is a true positive if a planted secret is there, else a false positive (a binary
file's or key container's location has no line). With `--runs N` the two scanners alternate
(imgtool, detect-secrets, imgtool, ...) and the medians are reported, with the load average.
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is named like the stdlib module `inspect`: keep its directory off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sysconfig
import tarfile
import tempfile
import time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imgtool.store import Store  # noqa: E402
from tests.inspect import corpus, imagespec, wide  # noqa: E402
from tests.inspect.values import Gen  # noqa: E402
from tests.inspect.wide_decoys import decoy_files  # noqa: E402
from tests.inspect.imagespec import file  # noqa: E402


def noise_files(count: int) -> list:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)[:count]
    return [file(f"/srv/lib/{p.relative_to(stdlib)}", p.read_bytes()) for p in paths]


def truth_locations(spec, truth) -> set[tuple]:
    """Ground truth as locations: the line a secret starts on (a PEM block's BEGIN line)."""
    contents = {}
    layer = -1
    for step in spec.steps:
        if step.members is None:
            continue
        layer += 1
        for kind, path, data, _ in step.members:
            if kind == "file":
                contents[(layer, "/" + path)] = data.decode("utf-8", "replace")
    out = set()
    for t in truth:
        if t.source == "layer":
            text = contents[(t.layer_index, t.path)]
            at = text.find(t.secret)
            if at < 0:
                at = text.find(t.secret.split("\n")[0])
            out.add(("layer", t.layer_index, t.path, text.count("\n", 0, at) + 1))
        else:
            out.add((t.source, t.config_field))
    return out


def add_wide(spec) -> set[tuple]:
    """The wide corpus's decoys and plants as two more layers; returns the plants' locations."""
    spec.layer("COPY base-files / # wide decoys", *[file(p, d) for p, d in decoy_files(Gen(79))])
    plants = wide.file_plants()
    index = spec.layer("COPY . / # wide plants", *[file(p.path, p.data) for p in plants])
    return {("layer", index, p.path, p.line) for p in plants}


def imgtool_locations(doc) -> set[tuple]:
    out = set()
    for f in doc["findings"]:
        if f["source"] == "layer":
            out.add(("layer", f["layer_index"], f["path"], f["line"]))
        else:
            out.add((f["source"], f["config_field"]))
    return out


def extract(store: Store, name: str, base: Path) -> None:
    """The detect-secrets harness: each layer's files under base/layer-<i>/, config and history as text."""
    image = store.resolve(name)
    for i, layer in enumerate(image.layers):
        dest = base / f"layer-{i}"
        dest.mkdir(parents=True)
        with store.open_blob(layer.digest) as blob, tarfile.open(fileobj=blob, mode="r|*") as tar:
            for member in tar:
                if member.isreg() and not os.path.basename(member.name).startswith(".wh."):
                    target = dest / member.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
    cfg = image.config
    (base / "env.env").write_text("".join(f'{e.split("=", 1)[0]}="{e.split("=", 1)[1]}"\n' for e in cfg.config.env or ()))
    (base / "labels.env").write_text("".join(f'{k}="{v}"\n' for k, v in (cfg.config.labels or {}).items()))
    (base / "history.txt").write_text("".join((h.created_by or "").replace("\n", " ") + "\n" for h in cfg.history))


def ds_locations(result: dict, image) -> set[tuple]:
    out = set()
    for filename, items in result["results"].items():
        for item in items:
            line = item["line_number"]
            parts = Path(filename).parts
            if parts[0].startswith("layer-"):
                out.add(("layer", int(parts[0][6:]), "/" + "/".join(parts[1:]), line))
            elif filename == "env.env":
                out.add(("config", f"Env[{line - 1}]"))
            elif filename == "labels.env":
                out.add(("config", f"Labels.{list(image.config.config.labels or {})[line - 1]}"))
            elif filename == "history.txt":
                out.add(("history", f"history[{line - 1}].created_by"))
    return out


def score(found: set, truth: set) -> dict:
    tp, fp, fn = len(found & truth), len(found - truth), len(truth - found)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def detect_secrets(venv: Path) -> Path:
    exe = venv / "bin" / "detect-secrets"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "detect-secrets==1.5.0"], check=True)
    return exe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--noise", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--corpus", choices=("planted", "wide", "both"), default="both")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "imgtool-bench-detect-secrets")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imgtool-bench-inspect-"))
    root = work / "store"
    store = Store.open(root)
    spec, truth, _ = corpus.make()
    expected = truth_locations(spec, truth) if args.corpus != "wide" else set()
    if args.corpus == "wide":
        spec = imagespec.Spec()
    if args.corpus != "planted":
        expected |= add_wide(spec)
    spec.layer("COPY lib /srv/lib", *noise_files(args.noise))
    imagespec.build(store, spec, "bench:corpus")
    env = dict(os.environ, IMGTOOL_ROOT=str(root), PYTHONPATH=str(REPO))
    exe = detect_secrets(args.venv)
    base = work / "extracted"
    shutil.rmtree(base, ignore_errors=True)
    extract(store, "bench:corpus", base)

    ours_times, ds_times, loads = [], [], []
    for _ in range(args.runs):   # interleaved, so both see the same load
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "imgtool", "inspect", "--secrets", "--format", "json", "bench:corpus"],
                              capture_output=True, text=True, env=env, check=True)
        ours_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds = subprocess.run([str(exe), "scan", "--all-files", "."], cwd=base, capture_output=True, text=True, check=True)
        ds_times.append(time.perf_counter() - t0)
    ours_doc = json.loads(proc.stdout)
    ours = score(imgtool_locations(ours_doc), expected)
    ours["time"] = statistics.median(ours_times)
    theirs = score(ds_locations(json.loads(ds.stdout), store.resolve("bench:corpus")), expected)
    theirs["time"] = statistics.median(ds_times)

    rows = [("imgtool inspect --secrets (from the image)", ours), ("detect-secrets 1.5.0 --all-files (extracted layers)", theirs)]
    if shutil.which("trivy"):
        print("trivy found on PATH: not wired into this harness yet", file=sys.stderr)
    else:
        print("trivy: not installed (no Debian 12 package, no network here): skipped", file=sys.stderr)
    files = ours_doc["summary"]["files_scanned"]
    print(f"corpus ({args.corpus}): {len(expected)} planted locations, {files} files in "
          f"{len(store.resolve('bench:corpus').layers)} layers ({args.noise} noise files), median of {args.runs}, "
          f"load average {statistics.median(loads):.1f}\n")
    print("| scanner | TP | FP | FN | precision | recall | F1 | time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s['tp']} | {s['fp']} | {s['fn']} | {s['precision']:.3f} | {s['recall']:.3f} | "
              f"**{s['f1']:.3f}** | {s['time']:.2f}s |")
    print(f"\nF1 margin: {ours['f1'] - theirs['f1']:+.3f} (target >= +0.10); "
          f"time ratio imgtool/detect-secrets: {ours['time'] / theirs['time']:.3f}x (target <= 0.1x)")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
