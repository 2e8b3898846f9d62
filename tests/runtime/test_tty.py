"""`imgtool run -t` / `-it` and process.terminal, driven through the real CLI under a real pty.

Each test runs `python -m imgtool` with the slave of a fresh pseudo-terminal as its stdio, as a
user's shell would, and reads the master with a timeout: so the container's terminal, the relay,
raw mode and window-size handling are all the ones users get.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

import pytest

from imgtool.runtime import container as ctr
from imgtool.runtime import state as rt_state
from imgtool.runtime import lifecycle
from imgtool.runtime.unpack import unpack_image

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces and cgroups")


class Term:
    """The CLI with a new pty's slave as stdin/stdout/stderr; `expect` reads the master."""

    def __init__(self, *args: str, rows: int = 33, cols: int = 97, stdout: int | None = None):
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.modes = termios.tcgetattr(self.slave)
        out = self.slave if stdout is None else stdout
        self.proc = subprocess.Popen([sys.executable, "-m", "imgtool", *args], stdin=self.slave,
                                     stdout=out, stderr=out, start_new_session=True)
        self.out = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, pattern: str, timeout: float = 10) -> re.Match:
        """Read until `pattern` matches what arrived so far (AssertionError with the output if not).

        Lines end in \r\r\n under `-t` alone: both the container's pty and this cooked one add a \r.
        """
        deadline = time.monotonic() + timeout
        while not (m := re.search(pattern.encode(), self.out, re.S)):
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} never arrived; got {self.out!r}"
            if select.select([self.master], [], [], min(left, 0.2))[0]:
                self.out += os.read(self.master, 4096)
        return m

    def wait(self) -> int:
        """The CLI's exit code; the pty is closed afterwards (and the CLI killed if it hangs)."""
        try:
            return self.proc.wait(10)
        finally:
            self.proc.kill()  # a no-op once it exited
            self.proc.wait()
            os.close(self.master)
            os.close(self.slave)


def test_t_allocates_terminal_with_host_size(clean_host):
    term = Term("run", "--rm", "-t", "busybox", "sh", "-c",
                "test -t 0 && test -t 1 && test -t 2 && echo all-tty; echo tty=$(tty); echo size=$(stty size)")
    m = term.expect(r"tty=(\S+)\s+size=(\d+ \d+)\s")
    assert b"all-tty" in term.out
    assert re.fullmatch(rb"/dev/(console|pts/\d+)", m.group(1)) and m.group(2) == b"33 97"
    assert term.wait() == 0


def test_it_shell_is_interactive_and_host_mode_restored(clean_host):
    term = Term("run", "--rm", "-it", "busybox", "sh")
    term.expect(r"# ")
    assert termios.tcgetattr(term.slave) != term.modes  # raw while the container runs
    os.write(term.master, b"echo h''i; exit 3\n")  # the echoed input reads h''i, only the output hi
    term.expect(r"\r\nhi\r\n")
    assert term.proc.wait(10) == 3
    assert termios.tcgetattr(term.slave) == term.modes
    term.wait()


def test_sigwinch_resizes_and_signals_still_forwarded(clean_host):
    term = Term("run", "--rm", "-it", "busybox", "sh", "-c", "trap 'echo size=$(stty size)' WINCH; trap 'exit 9' TERM; "
                "echo ready; while :; do sleep 0.05; done")
    term.expect("ready")
    term.resize(40, 120)
    term.proc.send_signal(signal.SIGWINCH)  # what the kernel sends a terminal's foreground group
    assert term.expect(r"size=(\d+ \d+)\s").group(1) == b"40 120"
    term.proc.send_signal(signal.SIGTERM)
    assert term.proc.wait(10) == 9
    assert termios.tcgetattr(term.slave) == term.modes  # restored when a signal ended the container
    term.wait()


def test_without_t_container_never_gets_host_terminal(clean_host):
    term = Term("run", "--rm", "-i", "busybox", "sh", "-c",
                "for fd in 0 1 2; do test -t $fd && echo $fd=tty || echo $fd=pipe; done; read line; echo got=$line")
    m = term.expect(r"0=(\w+)\r\n1=(\w+)\r\n2=(\w+)\r\n")
    assert m.groups() == (b"pipe", b"pipe", b"pipe")
    os.write(term.master, b"typed\n")  # -i without -t: the host terminal's lines arrive through a pipe
    term.expect(r"got=typed")
    assert term.wait() == 0


def test_i_forwards_terminal_input_when_output_is_not_a_terminal(clean_host):
    r, w = os.pipe()
    term = Term("run", "--rm", "-i", "busybox", "sh", "-c", "test -t 0 || read line; echo got=$line", stdout=w)
    os.close(w)
    os.write(term.master, b"typed\n")
    assert term.wait() == 0
    with os.fdopen(r, "rb") as out:
        assert out.read() == b"got=typed\n"


def test_it_needs_a_terminal_on_stdin(busybox_store, imgtool):
    r = imgtool("run", "-it", "busybox", "true")
    assert r.returncode != 0 and r.stderr == "imgtool: the input device is not a TTY\n"


def _terminal_bundle(store, tmp_path, args):
    bundle = tmp_path / "bundle"
    unpack_image(store, "busybox", bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(args=args, terminal=True)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def test_runtime_run_bundle_with_terminal(clean_host, tmp_path):
    bundle = _terminal_bundle(clean_host, tmp_path, ["sh", "-c", "tty; ls /dev/console; exit 6"])
    term = Term("runtime", "run", "--bundle", str(bundle), f"tty-run-{os.getpid()}")
    term.expect(r"/dev/pts/\d+\r\n/dev/console\r\n")
    assert term.wait() == 6


def test_create_sends_master_over_console_socket(clean_host, tmp_path, imgtool):
    bundle = _terminal_bundle(clean_host, tmp_path, ["sh", "-c", "tty; exit 0"])
    cid = f"tty-create-{os.getpid()}"
    r = imgtool("runtime", "create", "--bundle", bundle, cid)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "--console-socket" in r.stderr
    assert not os.path.exists(f"{rt_state.STATE_ROOT}/{cid}")

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / "console.sock"))
        listener.listen(1)  # the init's message waits in the backlog until we accept
        lifecycle.create(cid, bundle, console_socket=tmp_path / "console.sock")
        try:
            conn, _ = listener.accept()
            with conn:
                name, (master,), _, _ = socket.recv_fds(conn, 4096, 1)
            assert name == b"/dev/ptmx"
            ctr.Container.load(cid).start()
            out = b""
            while select.select([master], [], [], 10)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:  # EIO: the container's side is closed
                    break
            os.close(master)
            assert re.fullmatch(rb"/dev/pts/\d+\r\n", out)
        finally:
            lifecycle.delete(cid, force=True)
