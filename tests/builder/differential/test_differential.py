"""Differential tests: every corpus Dockerfile built by imgtool and by docker+BuildKit from the same
busybox base gives the same file tree, config and history.

A corpus case is a directory under corpus/: a Dockerfile and its context, plus optionally
  prepare.sh         run in the copied context first (hardlinks, modes, archives git cannot hold)
  case.json          build_args, target, file (-f, relative to the context), secrets {id: value},
                     parents {subdir: tag} built first by both, config (expected values that replace
                     docker's, for what the engine cannot express), history_tail (imgtool's last
                     created_by entries, hand-written), inherited_args (ARGs a `FROM <stage>` child
                     inherits: current BuildKit lists them in the child's RUN `|N` prefix, 0.8 does
                     not, so they are left out of both prefixes; pin the wording with history_tail)
  docker.Dockerfile  what docker builds instead, when Debian's docker.io (20.10, BuildKit 0.8 with
                     its built-in frontend; no `# syntax=` image can be pulled here) cannot parse
                     the real one: an equivalent older spelling, so the tree is still compared
                     against the engine; the history of such cases is checked by history_tail only.
docs/builder.md lists the intentional differences that the normalisation below accepts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..cli import imgtool_cmd
from .flatten import config_view, history_view, read_archive, tree_diff

pytestmark = [pytest.mark.slow, pytest.mark.interop]

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").exists() or (p / "case.json").exists())
META = ("case.json", "prepare.sh", "docker.Dockerfile")

# docker 20.10's frontend leaves COPY/ADD flags out of created_by; current BuildKit writes them
_RUN_ARGS = re.compile(r"^RUN \|(\d+) ")
_COPY_FLAGS = re.compile(r"^((?:COPY|ADD)(?: --parents| --chown=\S+| --chmod=\S+)*) ")


def _normalise(created_by: str, inherited_args: frozenset[str] = frozenset()) -> str:
    """created_by with what differs between BuildKit 0.8 and current BuildKit taken out."""
    if created_by.startswith("HEALTHCHECK "):
        return "HEALTHCHECK"  # Go's %q of a struct pointer (0.8), %+v of the struct (current)
    if created_by.startswith("ARG "):
        # 0.8 writes the default, current BuildKit the value the build used
        return "ARG " + " ".join(kv.split("=", 1)[0] for kv in created_by[4:].split(" "))
    run_args = _RUN_ARGS.match(created_by)
    if run_args:  # 0.8 repeats a redeclared ARG in the |N prefix, current BuildKit lists it once
        words = created_by[run_args.end():].split(" ")
        count = int(run_args.group(1))
        pairs = [p for p in dict.fromkeys(words[:count]) if p.split("=", 1)[0] not in inherited_args]
        return f"RUN |{len(pairs)} " * bool(pairs) + "RUN " * (not pairs) + " ".join(pairs + words[count:])
    m = _COPY_FLAGS.match(created_by)
    return created_by if m is None else created_by.split(" ", 1)[0] + " " + created_by[m.end():]


def _mount_stubs(dockerfile: str) -> set[str]:
    """RUN --mount targets and their parents: BuildKit >= 0.11 removes them when the RUN left them
    empty, 0.8 (docker 20.10) keeps the empty directories it made for them."""
    stubs = set()
    for spec in re.findall(r"--mount=(\S+)", dockerfile):
        opts = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in spec.split(","))
        target = opts.get("target") or opts.get("dst") or opts.get("destination")
        if not target and opts.get("type") == "secret":
            target = "/run/secrets/" + opts.get("id", "")
        path = (target or "").strip("/")
        while path:
            stubs.add(path)
            path = path.rpartition("/")[0]
    return stubs


def _without_stubs(tree: dict, stubs: set[str], base: dict) -> dict:
    """`tree` without the empty stub directories a RUN made (never one the base image had)."""
    kept = dict(tree)
    for path in sorted(stubs - set(base), key=len, reverse=True):
        entry = kept.get(path)
        if entry is not None and entry.type == "dir" and not any(p.startswith(path + "/") for p in kept):
            del kept[path]
    return kept


def _context(case: str, tmp_path: Path) -> tuple[Path, dict, Path | None]:
    src = CORPUS / case
    ctx = tmp_path / "ctx"
    shutil.copytree(src, ctx, symlinks=True)
    spec = json.loads((src / "case.json").read_text()) if (src / "case.json").exists() else {}
    if (src / "prepare.sh").exists():
        subprocess.run(["sh", "-e", str(src / "prepare.sh")], cwd=ctx, check=True)
    docker_file = None
    if (src / "docker.Dockerfile").exists():
        docker_file = tmp_path / "docker.Dockerfile"
        shutil.copy(src / "docker.Dockerfile", docker_file)
    for name in META:
        (ctx / name).unlink(missing_ok=True)
    return ctx, spec, docker_file


def _flags(spec: dict, tmp_path: Path, ctx: Path, web: str, dockerfile: Path) -> list[str]:
    flags = ["--network", "host"]
    args = dict(spec.get("build_args", {}))
    if "HTTP_BASE" in dockerfile.read_text():
        args["HTTP_BASE"] = web
    for k, v in args.items():
        flags += ["--build-arg", f"{k}={v}"]
    if "target" in spec:
        flags += ["--target", spec["target"]]
    for sid, value in spec.get("secrets", {}).items():
        path = tmp_path / f"secret-{sid}"
        path.write_text(value)
        flags += ["--secret", f"id={sid},src={path}"]
    return flags


def _build_both(engine, store: Path, ctx: Path, tag: str, flags: list[str], ours_file: Path,
                docker_file: Path, out: Path):
    engine.docker("build", *flags, "-t", tag, "-f", docker_file, ctx, timeout=300)
    engine.docker("save", "-o", out / f"{tag}.docker.tar", tag)
    imgtool_cmd("build", *flags, "-t", tag, "-f", ours_file, "--progress", "plain", ctx, root=store,
                timeout=300)
    imgtool_cmd("save", tag, "--format", "docker", "-o", out / f"{tag}.imgtool.tar", root=store)
    return read_archive(out / f"{tag}.imgtool.tar"), read_archive(out / f"{tag}.docker.tar")


def _assert_same(ours, theirs, spec: dict, compare_history: bool, dockerfile: str = "",
                 base: dict | None = None) -> None:
    diff = tree_diff(ours.tree, _without_stubs(theirs.tree, _mount_stubs(dockerfile), base or {}))
    assert not diff, "file trees differ:\n" + "\n".join(diff[:60])
    assert ours.hardlinks == theirs.hardlinks
    expected = {**config_view(theirs.config), **spec.get("config", {})}
    assert config_view(ours.config) == expected
    if compare_history:
        inherited = frozenset(spec.get("inherited_args", ()))
        assert [(_normalise(c, inherited), e) for c, e in history_view(ours.config)] == \
               [(_normalise(c, inherited), e) for c, e in history_view(theirs.config)]
    tail = spec.get("history_tail")
    if tail:
        assert [c for c, _ in history_view(ours.config)][-len(tail):] == tail


@pytest.mark.parametrize("case", CASES)
def test_same_as_docker(case, engine, diff_store, base_tree, web, tmp_path):
    ctx, spec, docker_file = _context(case, tmp_path)
    flags = _flags(spec, tmp_path, ctx, web, ctx / spec.get("file", "Dockerfile"))
    tag = f"difftest-{case}"
    for sub, parent_tag in spec.get("parents", {}).items():
        parent = ctx / sub
        ours, theirs = _build_both(engine, diff_store, parent, parent_tag, ["--network", "host"],
                                   parent / "Dockerfile", parent / "Dockerfile", tmp_path)
        _assert_same(ours, theirs, {}, compare_history=True)
    ours_file = ctx / spec.get("file", "Dockerfile")
    ours, theirs = _build_both(engine, diff_store, ctx, tag, flags, ours_file, docker_file or ours_file,
                               tmp_path)
    _assert_same(ours, theirs, spec, compare_history=docker_file is None,
                 dockerfile=(docker_file or ours_file).read_text(), base=base_tree)
    for value in spec.get("secrets", {}).values():
        for image in (ours, theirs):
            assert all(value.encode() not in layer for layer in image.layers), "a secret reached a layer"
            assert value not in json.dumps(image.config), "a secret reached the config"
