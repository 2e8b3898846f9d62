"""What the client's commands import: every call pays for its imports (docs/benchmarks.md), so
commands that never reach a registry do not import requests, and a push from the store does not
import jsonschema (the store's schema memo knows its own documents)."""

from __future__ import annotations

import re


def _imported(stderr: str) -> set[str]:
    """Module names a PYTHONPROFILEIMPORTTIME run's report lists."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", stderr, re.M)}


def test_local_commands_do_not_import_requests(busybox_store, client_env, imgtool, tmp_path):
    env = {"PYTHONPROFILEIMPORTTIME": "1"}
    archive = tmp_path / "a.tar"
    runs = [imgtool("save", "-o", archive, "busybox", env=env, check=True),
            imgtool("load", "-i", archive, env={**env, "IMGTOOL_ROOT": str(tmp_path / "other")}, check=True),
            imgtool("copy", "busybox", f"oci-archive:{tmp_path / 'b.tar'}", env=env, check=True),
            imgtool("copy", "busybox", f"oci:{tmp_path / 'layout'}:v1", env=env, check=True)]
    for result in runs:
        modules = _imported(result.stderr)
        assert "imgtool.remote.copy" in modules  # the report is there: the check below means something
        assert not {"requests", "urllib3"} & modules


def test_push_from_the_store_validates_nothing_again(server, busybox_store, client_env, imgtool):
    pushed = imgtool("push", "busybox", f"{server.host}/lean/busybox:v1", env={"PYTHONPROFILEIMPORTTIME": "1"},
                     check=True)
    modules = _imported(pushed.stderr)
    assert "requests" in modules
    assert "jsonschema" not in modules


def test_pull_validates_without_jsonschema_or_archive_code(server, busybox_store, client_env, imgtool, tmp_path):
    """A pull (and a copy from a peer's layout) validates every document it takes, through the check
    compiled from the bundled schemas: jsonschema only when a document fails it. Archive and
    docker-daemon code (tarfile, docker-py) is for those transports only."""
    ref = f"{server.host}/lean/pulled:v1"
    imgtool("push", "busybox", ref, check=True)
    env = {"PYTHONPROFILEIMPORTTIME": "1", "IMGTOOL_ROOT": str(tmp_path / "fresh")}
    for result in (imgtool("pull", ref, env=env, check=True),
                   imgtool("copy", f"docker://{ref}", f"oci:{tmp_path / 'layout'}:v1", env=env, check=True),
                   imgtool("copy", f"oci:{tmp_path / 'layout'}:v1", f"docker://{ref}-again", env=env, check=True)):
        modules = _imported(result.stderr)
        assert "requests" in modules
        assert not {"jsonschema", "tarfile", "imgtool.remote.archives"} & modules
