"""-v/--mount and named volumes; --rm, restart, wait, kill -s, container prune; the json-file log."""

from __future__ import annotations

import json
import time

import pytest

from imgtool.containers import names, volumes
from imgtool.containers.logs import JsonFileWriter, LogOptions, read
from imgtool.errors import ImgtoolError

from .conftest import leftovers, until


def test_bind_ro_rw_and_tmpfs(cstore, imgtool, tmp_path):
    host = tmp_path / "data"
    host.mkdir()
    (host / "f").write_text("from host\n")
    r = imgtool("run", "--rm", "-v", f"{host}:/data:ro", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m",
                "busybox", "sh", "-c", "cat /data/f; touch /data/x 2>&1; echo w=$?; touch /scratch/y && echo t=ok; "
                "grep ' /scratch ' /proc/mounts | cut -d' ' -f3")
    assert r.returncode == 0, r
    out = r.stdout.splitlines()
    assert out[0] == "from host" and "Read-only file system" in out[1] and out[2] == "w=1"
    assert out[3:] == ["t=ok", "tmpfs"]
    assert not (host / "x").exists()
    imgtool("run", "--rm", "-v", f"{host}:/data", "busybox", "sh", "-c", "echo rw > /data/new", check=True)
    assert (host / "new").read_text() == "rw\n"
    made = tmp_path / "made-by-v"
    imgtool("run", "--rm", "-v", f"{made}:/m", "busybox", "true", check=True)
    assert made.is_dir()  # docker's -v creates a missing bind source


def test_named_volume_outlives_containers(cstore, imgtool):
    imgtool("run", "--rm", "-v", "appdata:/d", "busybox", "sh", "-c", "echo kept > /d/f", check=True)
    r = imgtool("run", "--rm", "--mount", "type=volume,source=appdata,target=/e,readonly", "busybox", "sh", "-c",
                "cat /e/f; touch /e/g 2>/dev/null || echo ro")
    assert r.stdout == "kept\nro\n", r
    assert imgtool("volume", "ls", "-q", check=True).stdout.split() == ["appdata"]
    cid = imgtool("run", "-d", "-v", "appdata:/d", "busybox", "sleep", "100", check=True).stdout.strip()
    r = imgtool("volume", "rm", "appdata")
    assert r.returncode == 1 and r.stderr == f"imgtool: remove appdata: volume is in use - [{cid}]\n"
    imgtool("rm", "-f", cid, check=True)
    assert imgtool("volume", "rm", "appdata", check=True).stdout == "appdata\n"
    assert imgtool("volume", "ls", "-q", check=True).stdout == ""
    # an anonymous volume goes with rm -v
    cid = imgtool("run", "-d", "-v", "/anon", "busybox", "true", check=True).stdout.strip()
    assert len(imgtool("volume", "ls", "-q", check=True).stdout.split()) == 1
    imgtool("wait", cid, check=True)
    imgtool("rm", "-v", cid, check=True)
    assert imgtool("volume", "ls", "-q", check=True).stdout == ""


def test_rm_flag_restart_wait_kill_prune(cstore, imgtool):
    cid = imgtool("run", "-d", "--rm", "busybox", "sh", "-c", "exit 3", check=True).stdout.strip()
    imgtool("wait", cid)  # may already be gone
    for _ in range(500):
        if not (cstore.path / "containers" / cid).exists():
            break
        time.sleep(0.02)
    assert imgtool("ps", "-a", "-q", check=True).stdout == "", "--rm left the container"
    assert not leftovers(cid)

    # `start` is said once the trap is set: a USR1 before it would be dropped (PID 1 ignores a
    # signal it has no handler for) and `wait` would hang; `run -d` returns before the shell gets there
    cid = imgtool("run", "-d", "--name", "loop", "busybox", "sh", "-c",
                  "trap 'exit 5' USR1; echo start; while :; do sleep 0.1; done", check=True).stdout.strip()
    until(lambda: imgtool("logs", "loop", check=True).stdout == "start\n", what="the trap")
    assert imgtool("kill", "-s", "USR1", "loop", check=True).stdout == "loop\n"
    assert imgtool("wait", "loop", check=True).stdout == "5\n"
    imgtool("restart", "-t", "1", "loop", check=True)
    doc = json.loads(imgtool("container", "inspect", "loop", check=True).stdout)[0]
    assert doc["State"]["Running"] and doc["RestartCount"] == 1 and doc["Name"] == "/loop"
    # the log keeps the first run's line; the second run's comes when that shell gets to it
    until(lambda: imgtool("logs", "loop", check=True).stdout == "start\nstart\n", what="both runs' lines")
    r = imgtool("kill", "loop")
    assert r.returncode == 0 and imgtool("kill", "loop").returncode == 1  # not running any more
    imgtool("run", "-d", "--name", "keeper", "busybox", "sleep", "100", check=True)
    r = imgtool("container", "prune", "-f", check=True)
    assert r.stdout.startswith("Deleted Containers:\n" + cid + "\n")
    assert imgtool("ps", "-a", "--format", "{{.Names}} {{.State}}", check=True).stdout == "keeper running\n"
    rows = [json.loads(line) for line in imgtool("ps", "-a", "--format", "json", check=True).stdout.splitlines()]
    assert [r["Names"] for r in rows] == ["keeper"] and rows[0]["State"] == "running"
    r = imgtool("rm", "keeper")
    assert r.returncode == 1 and "container is running: stop the container before removing or force remove" in r.stderr


def test_json_file_format_and_rotation(tmp_path):
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, LogOptions(max_size=300, max_file=3))
    w.write("stdout", b"hello <b>\npart")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"ial\n")
    w.close()
    first = path.read_text().splitlines()[0]
    assert first.startswith('{"log":"hello \\u003cb\\u003e\\n","stream":"stdout","time":"') and first.endswith('Z"}')
    assert [(e.stream, e.data) for e in read(path)] == [("stdout", b"hello <b>\n"), ("stderr", b"oops\n"),
                                                         ("stdout", b"partial\n")]
    w = JsonFileWriter(path, LogOptions(max_size=300, max_file=3))
    for i in range(40):
        w.write("stdout", f"line {i}\n".encode())
    w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all(p.stat().st_size <= 300 for p in tmp_path.iterdir())
    lines = [e.data for e in read(path)]
    assert lines[-1] == b"line 39\n" and lines == sorted(lines, key=lambda b: int(b.split()[1]))
    assert [e.data for e in read(path, tail=2)] == [b"line 38\n", b"line 39\n"]
    w = JsonFileWriter(path, LogOptions())
    w.write("stdout", b"x" * 40000)
    w.close()
    assert [len(e.data) for e in read(path)[-3:]] == [16384, 16384, 40000 - 32768]


def test_names_and_prefixes():
    ids = {"ab" + "0" * 62: "web", "ac" + "1" * 62: "db"}
    assert names.resolve("web", ids) == "ab" + "0" * 62
    assert names.resolve("ac", ids) == "ac" + "1" * 62
    for ref, message in (("a", "multiple IDs found with provided prefix: a"), ("zz", "No such container: zz"),
                         ("", 'invalid name or ID supplied: ""')):
        try:
            names.resolve(ref, ids)
        except Exception as exc:  # noqa: BLE001 - the message is what is checked
            assert str(exc) == message
        else:
            raise AssertionError(ref)
    new = names.new_id()
    assert len(new) == 64 and not new[:12].isdigit()
    assert names.check_name("/kuard") == "kuard"
    # a name is a directory under the store: a final newline is not a name character (re's $ let it in)
    for check in (names.check_name, volumes.check_name):
        with pytest.raises(ImgtoolError, match="invalid characters|Invalid container name"):
            check("kuard\n")
    assert not names.is_id("a" * 64 + "\n")


def test_detached_with_a_terminal_logs_its_pty(cstore, imgtool):
    cid = imgtool("run", "-dt", "busybox", "sh", "-c", "tty; echo out; echo err >&2", check=True).stdout.strip()
    assert imgtool("wait", cid, check=True).stdout == "0\n"
    logs = imgtool("logs", cid, check=True)
    assert logs.stdout.replace("\r", "") == "/dev/pts/0\nout\nerr\n" and logs.stderr == ""  # -t merges stderr
