"""Bad builds: one line naming the Dockerfile line, non-zero exit, nothing tagged, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import config_of, named, write_context


def _one_line_error(r, *needles: str) -> str:
    assert r.returncode != 0, r
    assert "Traceback" not in r.stderr, r
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("imgtool: "), r
    for needle in needles:
        assert needle in last, r
    return last


@pytest.mark.parametrize("dockerfile, files, needles", [
    ("FROM busybox\nCOPY missing.txt /x\n", {}, ["Dockerfile:2", "missing.txt", "not found"]),
    ("FROM busybox\nCOPY --from=127.0.0.1:9/nosuchstage /x /y\n", {}, ["Dockerfile:2", "nosuchstage"]),
    ("FROM 127.0.0.1:9/nosuchimage\nRUN true\n", {}, ["Dockerfile:1", "127.0.0.1:9/nosuchimage"]),
    ("FROM busybox\nCOPY --chown=nobody-here a /a\n", {"a": "a"}, ["Dockerfile:2", "nobody-here"]),
    ("FROM busybox\nRUN true\nCOPY ../x /x\n", {}, ["Dockerfile:3", "outside the build context"]),
    ("FROM busybox\nCOPY link /x\n", {"link": None}, ["Dockerfile:2", "outside the build context"]),
    # a wildcard match that is such a link (or a dangling one) names the line too
    ("FROM busybox\nCOPY l* /x/\n", {"link": None}, ["Dockerfile:2", "COPY l*: link: symlink", "outside"]),
    ("FROM busybox\nRUN --mount=type=secret,id=k,required=true cat /run/secrets/k\n", {}, ["Dockerfile:2", "secret k"]),
    ("FROM busybox\nFOO bar\n", {}, ["Dockerfile:2", "unknown instruction"]),
    ("FROM busybox\nSTOPSIGNAL 0\n", {}, ["Dockerfile:2", "STOPSIGNAL 0: invalid signal"]),
    ("FROM busybox\nSTOPSIGNAL 9223372036854775808\n", {}, ["Dockerfile:2", "invalid signal"]),
    ("FROM busybox\nCOPY a b /notadir\n", {"a": "", "b": ""}, ["Dockerfile:2", "must be a directory"]),
    ("FROM busybox\nCOPY --chmod=u+q a /a\n", {"a": "a"}, ["Dockerfile:2", "invalid chmod parameter: 'u+q'"]),
    ("FROM busybox\nRUN --mount=type=secret,id=s,uid=app true\n", {}, ["Dockerfile:2", "invalid value app for uid"]),
    ("FROM busybox AS a\nFROM busybox\nRUN --mount=type=bind,from=a,source=/nope,target=/m true\n", {},
     ["Dockerfile:3", '--mount source "/nope": not found']),
    ("FROM busybox\nRUN --security=insecure true\n", {}, ["Dockerfile:2", "entitlement security.insecure"]),
    ("FROM busybox\nADD http://[::1 /x\n", {}, ["Dockerfile:2", "Invalid IPv6 URL"]),
    ("FROM busybox\nUSER 99999999999999999999\nRUN true\n", {}, ["Dockerfile:3", "unable to find user 9999"]),
    # (not a differential case: this Dockerfile makes docker 20.10's dockerd panic)
    ("ARG A=1\nARG B\n", {}, ["Dockerfile:2", "dockerfile contains no stages to build"]),
    # current BuildKit's linter with error=true (docker 20.10's frontend ignores the directive)
    ("# check=error=true\nFROM busybox as build\nRUN true\n", {}, ["Dockerfile:2", "lint violation found for rules: FromAsCasing"]),
])
def test_bad_input_is_one_line(build, busybox_store, tmp_path, dockerfile, files, needles):
    ctx = tmp_path / "ctx"
    regular = {k: v for k, v in files.items() if v is not None}
    write_context(ctx, {"Dockerfile": dockerfile, **regular})
    if "link" in files:
        os.symlink("/etc/passwd", ctx / "link")
    r = build({}, "-t", "bad:1", context=ctx)
    _one_line_error(r, *needles)
    assert not named(busybox_store, "bad:1")


def test_failing_run_shows_line_exit_code_and_output_tail(build, busybox_store):
    r = build({"Dockerfile": "FROM busybox\nRUN echo first\nRUN echo some output; echo oops >&2; exit 3\n"}, "-t", "bad:2")
    last = _one_line_error(r, "Dockerfile:3", "exit code: 3", "did not complete successfully")
    assert "echo some output" in last
    body = r.stderr
    assert "some output" in body and "oops" in body
    assert not named(busybox_store, "bad:2")


def test_missing_secret_file_and_syntax_error(build, imgtool, tmp_path):
    r = build({"Dockerfile": "FROM busybox\n"}, "--secret", f"id=x,src={tmp_path / 'absent'}")
    _one_line_error(r, "--secret", "absent")
    r = build({"Dockerfile": 'FROM busybox\nCMD ["unterminated\nRUN <<EOF\necho\n'})
    _one_line_error(r, "Dockerfile:")


STATE_ROOT = Path(os.environ.get("IMGTOOL_RUNTIME_ROOT", "/run/imgtool"))


def _step_containers(store_root: Path) -> list[str]:
    """IDs of the runtime containers currently running steps for this store."""
    ids = []
    if STATE_ROOT.is_dir():
        for p in STATE_ROOT.iterdir():
            try:
                if str(store_root) in (p / "state.json").read_text():
                    ids.append(p.name)
            except OSError:
                continue
    return ids


def _leftovers(store_root: Path, ids: list[str]) -> list[str]:
    found = []
    containers = store_root / "snapshots" / "containers"
    if containers.is_dir():
        found += [f"container dir {p.name}" for p in containers.iterdir()]
    tmp = store_root / "tmp"
    if tmp.is_dir():
        found += [f"tmp {p.name}" for p in tmp.iterdir()]
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {line.split()[4]}" for line in f if str(store_root) in line]
    found += [f"state {i}" for i in ids if (STATE_ROOT / i).exists()]
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        found += [f"cgroup {dirpath}/{d}" for d in dirnames if d in ids]
        if dirpath.count("/") > 8:
            dirnames.clear()
    return found


def test_ctrl_c_leaves_nothing_behind(busybox_store, store_root, tmp_path):
    ctx = write_context(tmp_path / "int", {"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
    proc = subprocess.Popen([sys.executable, "-m", "imgtool", "build", "--progress", "plain", "-t", "int:1", str(ctx)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    seen = b""
    os.set_blocking(proc.stderr.fileno(), False)
    while b"started" not in seen.split(b"RUN echo started")[-1] and time.monotonic() < deadline:
        time.sleep(0.1)
        chunk = proc.stderr.read()
        if chunk:
            seen += chunk
    assert b"started" in seen.split(b"RUN echo started")[-1], seen
    ids = _step_containers(store_root)
    assert ids, "the RUN step's container should be running"
    before = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert time.monotonic() - before < 20
    rest = proc.stderr.read() or b""
    err = (seen + rest).decode()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("imgtool: build interrupted"), err
    assert "Traceback" not in err
    assert not named(busybox_store, "int:1")
    assert _leftovers(store_root, ids) == []


def test_dockerfile_bytes_that_are_not_utf8_become_u_fffd_as_in_docker(build, busybox_store, imgtool):
    # docker 20.10 builds this; its RUN writes U+FFFD for each bad byte (Go's JSON of the spec)
    for quiet in ((), ("-q",)):
        r = build({"Dockerfile": b"FROM busybox\nRUN printf '%s' \xff\xfe > /x\nLABEL k=\xff\n"}, *quiet, "-t", "bytes:1")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r
    assert imgtool("run", "--rm", "--network", "none", "bytes:1", "cat", "/x").stdout == "\ufffd\ufffd"
    config = config_of(busybox_store, "bytes:1")
    assert config["config"]["Labels"] == {"k": "\ufffd"}
    assert "\ufffd\ufffd" in config["history"][-2]["created_by"]
