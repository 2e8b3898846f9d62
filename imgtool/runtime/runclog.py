"""runc's --log / --log-format: logrus lines that containerd's shim and podman read back.

Why this exact shape: containerd's shim decodes the whole log file as a stream of
`{"level","msg","time"}` objects and reports the last `"level":"error"` message as the OCI
runtime error; a line that is not JSON or a `time` that is not RFC 3339 breaks that lookup.
podman decodes its oci-log as one object, so a failing call writes one line. The file is opened
O_APPEND|O_SYNC with mode 0644 and shared by every call for one container, as runc's is.

Without --log, runc's logrus writes the same line to stderr (text: `time="…" level=error
msg="…"`); with a --log file, a fatal error also goes to stderr as the bare message
(runc `fatalWithCode`), which go-runc appends to its "did not terminate successfully" error.
`imgtool runtime` (a human's command, not an orchestrator's) keeps imgtool's `prog: message`.
"""

from __future__ import annotations

import os
import sys
import time

from . import jsonfast

# logrus TextFormatter.needsQuoting: a value made only of these is printed bare
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def text_value(value: str) -> str:
    """A logrus text-format value: bare when every character is safe, else Go-quoted."""
    return value if value and _BARE.issuperset(value) else jsonfast.dumps(value)


class Log:
    """Where errors, warnings and debug lines go: a --log file (json or text), else stderr."""

    def __init__(self, prog: str, path: str | None = None, fmt: str = "text", debug: bool = False,
                 logrus: bool = True):
        """`logrus=False` (a human's `imgtool runtime`) keeps `prog: message` on stderr unless a
        --log file or --log-format json asks for logrus lines."""
        self.prog, self.path, self.fmt, self.debug_on = prog, path, fmt, debug
        self.logrus = logrus or fmt == "json" or path is not None
        self._fd: int | None = None

    def _line(self, level: str, msg: str) -> str:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"
        if self.fmt == "json":
            return jsonfast.dumps({"level": level, "msg": msg, "time": stamp}) + "\n"
        return f"time=\"{stamp}\" level={level} msg={text_value(msg)}\n"

    def _write(self, level: str, msg: str) -> None:
        if self.path is None:
            sys.stderr.write(self._line(level, msg) if self.logrus else f"{self.prog}: {level}: {msg}\n")
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_SYNC | os.O_CLOEXEC, 0o644)
        os.write(self._fd, self._line(level, msg).encode())

    def error(self, msg: str) -> None:
        """A fatal error: logged, and (as runc's fatal) also on stderr, bare, when the log is a file."""
        if self.path is None and not self.logrus:
            sys.stderr.write(f"{self.prog}: {msg}\n")
            return
        self._write("error", msg)
        if self.path is not None:
            sys.stderr.write(msg + "\n")

    def warning(self, msg: str) -> None:
        """Something applied differently from what was asked (never silently)."""
        self._write("warning", msg)

    def debug(self, msg: str) -> None:
        """Only with --debug."""
        if self.debug_on:
            self._write("debug", msg)
