"""The wide corpus: every secret family the research note lists (SecretBench's categories, the
Dahlmanns et al. image study, the scanners' rule sets), written the way real images hold them.

`corpus.py` checks every *place* (visible, overwritten, deleted, opaque, Env, Labels, history) on a
few values per family; this corpus checks *breadth*: ~120 plants across private-key formats, cloud
credentials, SaaS tokens and credential-bearing config files, some of them CRLF, UTF-16, inside
tar/zip/gzip archives (nested too), as binary key stores or compiled files, plus a decoy set.

    python3 -m tests.inspect.wide     # per-family recall and precision of the current scanner

A plant is found when an unsuppressed finding is at its path (and line, for text) or config field.
"""

from __future__ import annotations

from dataclasses import dataclass

from .shapes import Shapes
from .values import Gen
from .wide_config import config_plants
from .wide_decoys import decoy_files, metadata_decoys
from .wide_files import key_plants, token_plants


@dataclass(frozen=True)
class Plant:
    """One planted secret: its family, the file (or config field) holding it, and where it starts."""

    family: str
    path: str                      # absolute path in the layer, or "" for metadata
    data: bytes | None             # the file's bytes as stored in the layer
    line: int | None               # 1-based line of the secret's start; None for binary files
    field: str | None = None       # Env[i], Labels.k, history[i].created_by


def _line(text: str, anchor: str) -> int:
    at = text.find(anchor)
    if at < 0:
        raise ValueError(f"anchor {anchor[:20]!r} not in its file")
    return text.count("\n", 0, at) + 1


def file_plants(seed: int = 77) -> list[Plant]:
    """Every file plant, its bytes encoded and wrapped as the generator says."""
    sh = Shapes(Gen(seed))
    out = []
    for family, path, data, anchor_text, anchor in [*key_plants(sh), *token_plants(sh), *config_plants(sh)]:
        out.append(Plant(family, path, data, None if anchor is None else _line(anchor_text, anchor)))
    return out


def metadata(seed: int = 78, first_history: int = 3) -> tuple[list[str], dict[str, str], list[str], list[tuple[str, str]]]:
    """(Env, Labels, history lines, [(family, field)]) with secrets only in image metadata; the history
    lines follow `first_history` layer entries."""
    sh = Shapes(Gen(seed))
    env = ["PATH=/usr/local/bin:/usr/bin:/bin", f"SENDGRID_API_KEY={sh.sendgrid()}", f"DD_API_KEY={sh.hex(32)}",
           f"DATABASE_URL=mysql://app:{sh.alnum(16)}@db:3306/app", f"OPENAI_API_KEY={sh.openai_project()}",
           f"TWILIO_AUTH_TOKEN={sh.hex(32)}", f"VAULT_TOKEN={sh.vault()}", f"HEROKU_API_KEY={sh.uuid()}",
           f"MYSQL_ROOT_PASSWORD={sh.password(14)}", f"AWS_SESSION_TOKEN={sh.aws_session()}"]
    env_families = ["sendgrid", "datadog", "database-url", "openai", "twilio", "vault", "heroku", "generic", "aws"]
    env += metadata_decoys()["env"]
    labels = {"ci.webhook": sh.slack_webhook(), "ci.registry-password": sh.password(20),
              "org.opencontainers.image.revision": sh.hex(40), **metadata_decoys()["labels"]}
    history = [
        f"RUN |2 GITHUB_TOKEN={sh.github()} PIP_INDEX_URL=https://ci:{sh.alnum(20)}@pypi.corpus.test/simple "
        "/bin/sh -c pip install -r requirements.txt # buildkit",
        f"RUN /bin/sh -c curl -H \"Authorization: Bearer {sh.alnum(40)}\" -o /tmp/a.tgz https://artifacts.corpus.test/a.tgz",
        f"RUN /bin/sh -c docker login -u ci -p {sh.alnum(24)} registry.corpus.test",
        f"RUN /bin/sh -c mysql -uroot -p{sh.alnum(18)} -e 'CREATE DATABASE app'",
        f"/bin/sh -c #(nop)  ENV STRIPE_SECRET_KEY={sh.stripe('rk_live_')}",
        f"ARG HF_TOKEN={sh.huggingface()}",
        f"RUN /bin/sh -c curl -H \"X-API-Key: {sh.alnum(32)}\" https://api.corpus.test/register",
        *metadata_decoys()["history"],
    ]
    fields = [(f, f"Env[{i + 1}]") for i, f in enumerate(env_families)]
    fields += [("aws", "Env[9]"), ("slack", "Labels.ci.webhook"), ("generic", "Labels.ci.registry-password")]
    fields += [(f, f"history[{first_history + i}].created_by") for i, f in
               [(0, "github"), (0, "url-credentials"), (1, "bearer"), (2, "cli"), (3, "cli"), (4, "stripe"), (5, "huggingface"),
                (6, "api-header")]]
    return env, labels, history, fields


def score(findings: list[dict], plants: list[Plant], fields: list[tuple[str, str]]) -> dict:
    """Per family: planted, found; plus the findings no plant explains (false positives)."""
    shown = [f for f in findings if not f["suppressed"]]
    explained: set[int] = set()
    per: dict[str, list[int]] = {}
    missed = []

    def hit(pred) -> bool:
        idx = [i for i, f in enumerate(shown) if pred(f)]
        explained.update(idx)
        return bool(idx)

    for p in plants:
        ok = hit(lambda f, p=p: f["path"] == p.path and (p.line is None or f["line"] == p.line))
        per.setdefault(p.family, [0, 0])[0] += 1
        per[p.family][1] += ok
        if not ok:
            missed.append((p.family, p.path, p.line))
    for family, where in fields:
        ok = hit(lambda f, w=where: f["config_field"] == w)
        per.setdefault(family, [0, 0])[0] += 1
        per[family][1] += ok
        if not ok:
            missed.append((family, where, None))
    extra = [(f["rule_id"], f["path"] or f["config_field"], f["line"]) for i, f in enumerate(shown) if i not in explained]
    return {"per_family": per, "missed": missed, "false_positives": extra}


def spec():
    """The image: base decoys, then the plants; a later layer deletes /var/tmp/leak (still shipped)."""
    from .imagespec import Spec, file, whiteout

    s = Spec()
    s.layer("/bin/sh -c #(nop) ADD file:base in / ", *[file(p, d) for p, d in decoy_files(Gen(79))])
    s.layer("COPY . / # buildkit", *[file(p.path, p.data) for p in file_plants()])
    s.layer("RUN /bin/sh -c rm -rf /var/tmp/leak", whiteout("/var/tmp/leak"))
    env, labels, history, _ = metadata()
    for text in history:
        s.meta(text)
    s.env, s.labels = env, labels
    return s


def main() -> None:
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from imgtool.store import Store

    from . import imagespec

    root = Path(tempfile.mkdtemp(prefix="imgtool-wide-")) / "store"
    imagespec.build(Store.open(root), spec(), "wide:1")
    env = dict(os.environ, IMGTOOL_ROOT=str(root))
    out = subprocess.run([sys.executable, "-m", "imgtool", "inspect", "--secrets", "--format", "json", "wide:1"],
                         capture_output=True, text=True, env=env, check=True).stdout
    result = score(json.loads(out)["findings"], file_plants(), metadata()[3])
    total = [0, 0]
    print("| family | planted | found | recall |\n|---|---|---|---|")
    for family, (n, k) in sorted(result["per_family"].items()):
        total[0] += n
        total[1] += k
        print(f"| {family} | {n} | {k} | {k / n:.2f} |")
    fp = len(result["false_positives"])
    print(f"\nrecall {total[1]}/{total[0]} = {total[1] / total[0]:.3f}; false positives {fp}; "
          f"precision {total[1] / (total[1] + fp):.3f}")
    for m in result["missed"]:
        print("MISSED", *m)
    for f in result["false_positives"]:
        print("FP", *f)


if __name__ == "__main__":
    main()
