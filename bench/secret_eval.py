#!/usr/bin/env python3
"""Outside-eyes evaluation of `imgtool inspect --secrets`: a corpus written from the public rule sets
(gitleaks, TruffleHog, detect-secrets, SecretBench's categories), not from imgtool's rules, built
into a store with `imgtool build` and scanned with the CLI a user runs.

    IMGTOOL_ROOT=/tmp/evalstore python3 bench/secret_eval.py [--seed 5] [--misses]

The store must hold `busybox:latest`. Prints recall (plants found) and false positives (unsuppressed
findings on decoys, on metadata decoys, or at plant files but not on a plant).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_cases import Case, credential_files, key_files, tokens  # noqa: E402
from eval_configs import bare_tokens, configs, decoys, dotenv, history, metadata  # noqa: E402
from eval_round2 import round2  # noqa: E402
from eval_values import V  # noqa: E402


def corpus(seed: int, second_round: bool = True) -> Case:
    v = V(seed)
    t = tokens(v)
    c = Case()
    for part in (credential_files, dotenv, configs, bare_tokens, history, metadata, *([round2] if second_round else [])):
        part(c, v, t)
    key_files(c, v)
    decoys(c, v)
    return c


def build(c: Case, ctx: Path, tag: str) -> None:
    for path, data in c.files.items():
        dest = ctx / "root" / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    lines = ["FROM busybox:latest", *[f"ARG {k}" for k, _, _ in c.args], "COPY root/ /",
             "RUN echo built > /built.txt", "RUN rm -f " + " ".join(c.deleted)]
    lines += [f"ENV {k}={json.dumps(val)}" for k, val, _ in c.env]
    lines += [f"LABEL {json.dumps(k)}={json.dumps(val)}" for k, val, _ in c.labels]
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    flags = [a for k, val, _ in c.args for a in ("--build-arg", f"{k}={val}")]
    subprocess.run(["imgtool", "build", "-q", "-t", tag, *flags, str(ctx)], check=True, capture_output=True)


def _overlap(a: str, b: str) -> bool:
    a, b = a.replace("\\n", "\n"), b.replace("\\n", "\n")
    return bool(a) and bool(b) and (a in b or b in a)


def score(c: Case, findings: list[dict], misses: bool) -> dict:
    live = [f for f in findings if not f["suppressed"]]
    used: set[int] = set()
    found: dict[str, bool] = {}
    for family, path, secret in c.plants:
        hit = [i for i, f in enumerate(live) if f["path"] == path and (secret is None or _overlap(f.get("secret", ""), secret))]
        found[family] = found.get(family, False) or bool(hit)
        used.update(hit)
    meta = [(fam, val) for fam_list in (c.env, c.labels, c.args) for _, val, fam in fam_list if fam]
    for family, value in meta:
        hit = [i for i, f in enumerate(live) if f["source"] != "layer" and _overlap(f.get("secret", ""), value)]
        found[family] = found.get(family, False) or bool(hit)
        used.update(hit)
    fps = [f for i, f in enumerate(live) if i not in used and f["path"] != "/built.txt"]
    report = {"plants": len(found), "found": sum(found.values()), "fp": len(fps),
              "missed": sorted(k for k, ok in found.items() if not ok)}
    if misses:
        for f in fps:
            print(f"FP {f['rule_id']:28} {f['path'] or f['config_field']}:{f['line']} {f.get('secret', '')[:60]!r}")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--round1", action="store_true", help="only the first round's cases")
    ap.add_argument("--misses", action="store_true", help="list the false positives")
    args = ap.parse_args()
    c = corpus(args.seed, not args.round1)
    tag = f"secret-eval:{args.seed}{'r1' if args.round1 else ''}"
    with tempfile.TemporaryDirectory() as d:
        build(c, Path(d), tag)
    out = subprocess.run(["imgtool", "inspect", "--secrets", "--show-secrets", "--format", "json", tag],
                         check=True, capture_output=True, text=True).stdout
    r = score(c, json.loads(out)["findings"], args.misses)
    print(f"recall {r['found']}/{r['plants']} = {r['found'] / r['plants']:.3f}; false positives {r['fp']}")
    print("missed:", " ".join(r["missed"]) or "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
