"""The planted corpus built by `imgtool build` (COPY, RUN rm, ARG, build args, ENV, --label): the
scan finds every secret where the builder put it; the build ends with the summary line and
`--fail-on-secrets` fails it without leaving the name behind."""

from __future__ import annotations

import json

from . import corpus
from .test_secrets_corpus import _score


def test_built_corpus_found_with_layers_and_statuses(imgtool, busybox_store, tmp_path):
    plan, flags = corpus.context(tmp_path / "ctx")
    built = imgtool("build", "--progress", "plain", "-t", "corpus:built", *flags, str(tmp_path / "ctx"))
    assert built.returncode == 0, built.stderr
    summary = [line for line in built.stderr.splitlines() if "shipped but invisible" in line]
    assert len(summary) == 1 and "secrets: " in summary[0] and "deleted-opaque" in summary[0]
    config = json.loads(busybox_store.resolve("corpus:built").config_bytes)
    truth = corpus.layer_truth(plan, planted=2, overwrite=4, remove=3)
    truth += corpus.metadata_truth(config, corpus.metadata_secrets(plan))
    assert {t.source for t in truth} == {"layer", "config", "history"}
    result = imgtool("inspect", "--secrets", "--format", "json", "corpus:built")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    missed, wrong, extra = _score(doc["findings"], truth)
    assert not missed, [(t.family, t.path or t.config_field) for t in missed]
    assert not wrong, [(t.family, t.path, f["status"], t.status) for t, f in wrong]
    assert not extra, [(f["rule_id"], f["path"], f["line"], f["config_field"]) for f in extra]
    assert f"secrets: {doc['summary']['findings']} " in summary[0]


def test_fail_on_secrets_fails_the_build_and_drops_the_name(imgtool, busybox_store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "settings.env").write_text("DB_PASSWORD=Zq8vLr2mWx4kTn7p\n")
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nCOPY settings.env /app/.env\nRUN rm /app/.env\n")
    result = imgtool("build", "--progress", "plain", "--fail-on-secrets", "-t", "leaky:1", str(ctx))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("imgtool: --fail-on-secrets: the image ships generic-secret-assignment in /app/.env (layer 1, deleted)")
    assert "Zq8vLr2mWx4kTn7p" not in result.stderr + result.stdout
    assert imgtool("inspect", "leaky:1").returncode != 0
    clean = imgtool("build", "--progress", "plain", "--fail-on-secrets", "-t", "clean:1", str(ctx),
                    "-f", str(_dockerfile(tmp_path, "FROM busybox:latest\nRUN echo hi > /hello\n")))
    assert clean.returncode == 0, clean.stderr
    assert "secrets: 0" in clean.stderr


def _dockerfile(tmp_path, text: str):
    path = tmp_path / "Dockerfile.clean"
    path.write_text(text)
    return path
