"""`imgtool inspect` and `imgtool history` against docker's own output for the same image, loaded into
a real dockerd (Debian's 20.10, started here with its own data root and socket)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import DOCKER

from . import imagespec
from .conftest import REPO, cli_json, run_cli
from .imagespec import Spec, directory, file, whiteout

pytestmark = [pytest.mark.slow, pytest.mark.interop]


@pytest.fixture(scope="module")
def docker_cli(dockerd):
    """The docker CLI's argv, talking to the session's private dockerd."""
    return [DOCKER, "-H", dockerd["DOCKER_HOST"]]


def _spec() -> Spec:
    s = Spec()
    s.layer("ADD file:base in /", directory("/etc"), file("/etc/os-release", "ID=compat\n"),
            directory("/usr"), directory("/usr/bin"), file("/usr/bin/tool", b"\x7fELF" + b"\0" * 5000, 0o755))
    s.meta("ENV APP=1")
    s.layer("RUN /bin/sh -c echo configured > /etc/app.conf && rm /etc/os-release # buildkit", directory("/etc"),
            file("/etc/app.conf", "configured\n" * 100), whiteout("/etc/os-release"))
    s.meta("LABEL org.example.team=inspect")
    s.layer("COPY data /data # buildkit", directory("/data"), file("/data/blob.bin", b"d" * 123_456))
    s.env = ["PATH=/usr/bin:/bin", "APP=1"]
    s.labels = {"org.example.team": "inspect"}
    return s


@pytest.fixture(scope="module")
def loaded(docker_cli, tmp_path_factory):
    from imgtool.store import Store

    root = tmp_path_factory.mktemp("compat") / "store"
    imagespec.build(Store.open(root), _spec(), "compat:1")
    archive = root.parent / "compat.tar"
    run_cli("save", "--format", "docker", "-o", str(archive), "compat:1", root=root)
    subprocess.run([*docker_cli, "load", "-i", str(archive)], check=True, capture_output=True)
    yield root, docker_cli
    subprocess.run([*docker_cli, "rmi", "-f", "compat:1"], capture_output=True)


def _shape(value, path: str = ""):
    """Key names and JSON types, recursively (GraphDriver.Data is engine state: its keys are not compared)."""
    if isinstance(value, dict):
        if path.endswith("GraphDriver.Data"):
            return "object"
        return {k: _shape(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return ["list", *{json.dumps(_shape(v, path)) for v in value}]
    return type(value).__name__ if value is not None else "null"


def test_inspect_json_has_dockers_keys_types_and_values(loaded):
    root, docker = loaded
    theirs = json.loads(subprocess.run([*docker, "image", "inspect", "compat:1"], check=True,
                                       capture_output=True, text=True).stdout)
    ours = cli_json("inspect", "compat:1", root=root)
    assert len(ours) == len(theirs) == 1
    assert _shape(ours) == _shape(theirs)
    for key in ("Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Author", "Config", "ContainerConfig",
                "Architecture", "Os", "Size", "VirtualSize", "RootFS"):
        assert ours[0][key] == theirs[0][key], key
    template = "{{.Id}} {{.Config.Env}} {{.Config.Cmd}} {{json .Config.Labels}} {{.Config.Labels}} {{index .RepoTags 0}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}"
    theirs_text = subprocess.run([*docker, "image", "inspect", "-f", template, "compat:1"], check=True,
                                 capture_output=True, text=True).stdout
    assert run_cli("inspect", "-f", template, "compat:1", root=root).stdout == theirs_text


def test_docker_daemon_source_reads_the_engines_image(loaded, dockerd, tmp_path):
    import os

    root, _ = loaded
    env = dict(os.environ, DOCKER_HOST=dockerd["DOCKER_HOST"], IMGTOOL_ROOT=str(tmp_path / "empty"))
    proc = subprocess.run([sys.executable, "-m", "imgtool", "inspect", "--layers", "--format", "json", "docker-daemon:compat:1"],
                          capture_output=True, text=True, env=dict(env, PYTHONPATH=str(REPO)), timeout=300)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    ours = cli_json("inspect", "--layers", "--format", "json", "compat:1", root=root)
    assert theirs["id"] == ours["id"]
    assert theirs["deleted_bytes"] == ours["deleted_bytes"] == len("ID=compat\n")
    assert [layer["diff_id"] for layer in theirs["layers"]] == [layer["diff_id"] for layer in ours["layers"]]


def test_history_matches_dockers_rows(loaded):
    root, docker = loaded

    def rows(args):
        out = subprocess.run([*docker, "history", *args, "compat:1"], check=True, capture_output=True, text=True).stdout
        return out

    theirs = [json.loads(line) for line in rows(["--no-trunc", "--format", "{{json .}}"]).splitlines()]
    ours = [json.loads(line) for line in run_cli("history", "--no-trunc", "--format", "json", "compat:1",
                                                 root=root).stdout.splitlines()]
    assert [_shape(r) for r in ours] == [_shape(r) for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        for key in ("ID", "CreatedBy", "Comment", "Size", "CreatedAt"):
            assert a[key] == b[key], key
    for flags in ([], ["--no-trunc"], ["-H=false"], ["--format", "table {{.ID}}\t{{.Size}}\t{{.CreatedBy}}"]):
        mine = run_cli("history", *flags, "compat:1", root=root).stdout
        if flags and flags[0] == "-H=false" or not flags or flags == ["--no-trunc"]:
            # the CREATED column is relative to now: compare the other columns
            assert [line.split()[0] for line in mine.splitlines()] == [line.split()[0] for line in rows(flags).splitlines()]
            assert mine.splitlines()[0] == rows(flags).splitlines()[0]
        else:
            assert mine == rows(flags)


@pytest.mark.parametrize("template", [
    "{{json .Config.Healthcheck}}", "{{.Config.User}}|{{json .Config.Env}}", "{{.Os}}/{{.Architecture}}",
    "{{range .RootFS.Layers}}{{.}} {{end}}", '{{index .Config.Labels "org.example.team"}}',
    "{{json .Config.Volumes}}", "{{if .Config.Entrypoint}}entry{{else}}none{{end}}", "{{len .RootFS.Layers}}",
])
def test_format_templates_print_what_docker_prints(loaded, template):
    root, docker_cli = loaded
    theirs = subprocess.run([*docker_cli, "inspect", "--format", template, "compat:1"],
                            capture_output=True, text=True, check=True).stdout
    ours = run_cli("inspect", "--format", template, "compat:1", root=root).stdout
    assert ours == theirs
