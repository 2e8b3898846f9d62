"""`imgtool attach`: output (stdout and stderr apart) and input of a running `-d -i` container through
its monitor; the exit code on exit; --no-stdin; signals proxied; refused for a stopped container."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time


def _attach(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "imgtool", "attach", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _result(proc: subprocess.Popen) -> tuple[int, bytes, bytes]:
    """Its exit code and output (small: the pipes never fill)."""
    code = proc.wait(timeout=30)
    return code, proc.stdout.read(), proc.stderr.read()


def _line(proc: subprocess.Popen, timeout: float) -> bytes | None:
    """The next stdout line of `proc` if one comes within `timeout` seconds."""
    if select.select([proc.stdout], [], [], timeout)[0]:
        return proc.stdout.readline()
    return None


def test_attach_relays_both_ways_and_returns_exit_code(cstore, imgtool):
    script = 'while read l; do [ "$l" = quit ] && exit 4; echo "out $l"; echo "err $l" >&2; done'
    cid = imgtool("run", "-d", "-i", "busybox", "sh", "-c", script, check=True).stdout.strip()
    first = _attach(cid)
    first.stdin.write(b"hello\n")
    first.stdin.flush()
    assert _line(first, 60) == b"out hello\n"
    second = _attach("--no-stdin", cid)  # output only: its input is never forwarded
    second.stdin.write(b"ignored\n")
    second.stdin.close()
    pings = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the second client is attached and sees output
        first.stdin.write(b"ping\n")
        first.stdin.flush()
        pings += 1
        got = _line(second, 0.5)
        if got is not None:
            assert got == b"out ping\n"
            break
    first.stdin.write(b"quit\n")
    first.stdin.close()
    code, out, err = _result(first)
    assert code == 4 and out == b"out ping\n" * pings and err == b"err hello\n" + b"err ping\n" * pings
    code, out, err = _result(second)
    assert code == 4 and b"ignored" not in out + err and set(out.splitlines()) <= {b"out ping"}
    r = imgtool("attach", cid)
    assert r.returncode == 1 and r.stderr == "imgtool: You cannot attach to a stopped container, start it first\n"


def test_attach_proxies_signals(cstore, imgtool):
    cid = imgtool("run", "-d", "busybox", "sh", "-c",
                  "trap 'echo got-usr1; exit 9' USR1; while :; do echo tick; sleep 0.2; done", check=True).stdout.strip()
    proc = _attach(cid)
    assert _line(proc, 60) == b"tick\n"  # attached: its handlers are set before it relays anything
    proc.send_signal(signal.SIGUSR1)
    code, out, _ = _result(proc)
    assert code == 9 and out.endswith(b"got-usr1\n") and set(out.splitlines()[:-1]) <= {b"tick"}
    r = imgtool("attach", "--sig-proxy", "maybe", cid)
    assert r.returncode == 125 and 'invalid argument "maybe" for "--sig-proxy" flag' in r.stderr
