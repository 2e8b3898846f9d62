"""`imgtool unpack` from the command line: the bundle it writes, and its progress output (issue 15:
bars on a terminal only, plain layer lines otherwise, nothing with -q, rich never imported off a TTY)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (layer owners are applied)")

LAYER_LINE = re.compile(r"^Unpacking layer [0-9a-f]{12} done$")


def test_plain_lines_off_a_terminal_and_nothing_with_q(busybox_store, imgtool, tmp_path):
    r = imgtool("unpack", "busybox", tmp_path / "b1", check=True)
    lines = r.stderr.splitlines()
    assert lines and all(LAYER_LINE.match(line) for line in lines), r.stderr
    assert len(lines) == len(busybox_store.resolve("busybox").layers) and r.stdout == ""
    assert json.loads((tmp_path / "b1" / "config.json").read_text())["root"]["path"] == "rootfs"
    assert (tmp_path / "b1" / "rootfs" / "bin" / "busybox").is_file()
    r = imgtool("unpack", "-q", "busybox", tmp_path / "b2", check=True)
    assert r.stdout == "" and r.stderr == ""
    assert (tmp_path / "b2" / "rootfs" / "bin" / "busybox").is_file()


def test_rich_not_imported_off_a_terminal(busybox_store, tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "imgtool", "unpack", "busybox",
                           str(tmp_path / "b")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "rich" not in imported and not any(name.startswith("rich.") for name in imported)


def test_bar_on_a_terminal(busybox_store, tmp_path):
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "imgtool", "unpack", "busybox", str(tmp_path / "b")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=300) == 0
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    text = shown.decode(errors="replace")
    assert "Unpacking layer" in text and "done" in text and "\x1b[" in text  # drawn with escapes: rich
    assert (tmp_path / "b" / "rootfs" / "bin" / "busybox").is_file()
