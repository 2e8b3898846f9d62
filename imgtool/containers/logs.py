"""docker's json-file log: one JSON object per line, rotated by size, read back by `imgtool logs`.

Format (moby daemon/logger/jsonfilelog): `{"log":"hello\\n","stream":"stdout","time":"...Z"}`, a line
longer than 16 KiB split into partial messages of which only the last ends in a newline. Unlike
docker (unbounded by default) a default of 10 MB x 3 files applies, because a chatty container
must not fill the store's disk (moby#27957); `--log-opt max-size=,max-file=` change it.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from imgtool.errors import ImgtoolError

PARTIAL = 16 * 1024
_DECIMAL = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$", re.I)


@dataclass(frozen=True)
class LogOptions:
    """json-file's `max-size` (bytes, 0 = unbounded) and `max-file`."""

    max_size: int = 10_000_000
    max_file: int = 3

    @classmethod
    def parse(cls, opts: list[str]) -> "LogOptions":
        """`--log-opt k=v` items, docker's messages for bad ones."""
        size, files = cls.max_size, cls.max_file
        for opt in opts:
            key, sep, value = opt.partition("=")
            if not sep:
                raise ImgtoolError(f"invalid log opt '{opt}': must be key=value")
            if key == "max-size":
                m = _DECIMAL.match(value)
                if not m or float(m.group(1)) <= 0:
                    raise ImgtoolError("max-size must be a positive number")
                size = int(float(m.group(1)) * 1000 ** " kmgt".index(m.group(2).lower() or " "))
            elif key == "max-file":
                if not value.lstrip("-").isdigit() or int(value) < 1:
                    raise ImgtoolError("max-file cannot be less than 1")
                files = int(value)
            else:
                raise ImgtoolError(f"unknown log opt '{key}' for json-file log driver")
        return cls(size, files)


def timestamp(t: float | None = None) -> str:
    """RFC3339Nano in UTC, docker's 9 fraction digits."""
    ns = time.time_ns() if t is None else int(t * 1e9)
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


class JsonFileWriter:
    """Appends stdout/stderr chunks as json-file lines, rotating `<path>` -> `<path>.1` ... by size."""

    def __init__(self, path: Path, options: LogOptions = LogOptions()):
        self.path, self.options = path, options
        self.pending: dict[str, bytes] = {}
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Log a chunk; complete lines go out now, a trailing partial line waits for more (or 16 KiB)."""
        buf = self.pending.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0 and len(buf) < PARTIAL:
                break
            cut = nl + 1 if 0 <= nl < PARTIAL else PARTIAL
            self._emit(stream, buf[:cut])
            buf = buf[cut:]
        self.pending[stream] = buf

    def _emit(self, stream: str, line: bytes) -> None:
        record = json.dumps({"log": line.decode("utf-8", "replace"), "stream": stream, "time": timestamp()},
                            ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        raw = (record + "\n").encode()
        if self.options.max_size and self.size + len(raw) > self.options.max_size and self.size:
            self._rotate()
        os.write(self.fd, raw)
        self.size += len(raw)

    def _rotate(self) -> None:
        os.close(self.fd)
        keep = self.options.max_file
        if keep <= 1:
            self.path.unlink(missing_ok=True)
        else:
            for i in range(keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
                if src.exists():
                    os.replace(src, older)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        """Flush partial lines (as docker does at exit) and close."""
        for stream, rest in list(self.pending.items()):
            if rest:
                self._emit(stream, rest)
        self.pending.clear()
        os.close(self.fd)


@dataclass(frozen=True)
class Entry:
    """One log line read back."""

    stream: str
    time: str
    data: bytes


def _parse(line: bytes) -> Entry | None:
    try:
        doc = json.loads(line)
        return Entry(doc.get("stream", "stdout"), doc.get("time", ""), doc.get("log", "").encode())
    except (ValueError, AttributeError):
        return None  # a torn last line (the writer was killed mid-write): skipped


def read(path: Path, tail: int | None = None) -> list[Entry]:
    """Every entry in the rotated files, oldest first (`tail`: only the last N)."""
    files = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    entries: list[Entry] = []
    for f in [*files, path]:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        entries += [e for e in map(_parse, data.splitlines()) if e is not None]
    return entries[-tail:] if tail is not None and tail >= 0 else entries


def follow(path: Path, offset: int, running) -> Iterator[Entry]:
    """New entries appended after `offset` until `running()` is false and the file stops growing."""
    pending = b""
    while True:
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size < offset:  # rotated: start the new file from its top
                    offset = 0
                f.seek(offset)
                chunk = f.read()
        except OSError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            entry = _parse(line)
            if entry is not None:
                yield entry
        if not chunk:
            if not running():
                return
            time.sleep(0.1)
