"""Build progress as BuildKit shows it: one vertex per step, plain lines, JSON lines or a live TTY view.

plain (`--progress plain`, and `auto` without a terminal):
    #5 [2/3] RUN make
    #5 0.214 output line
    #5 DONE 1.3s
    #6 [3/3] COPY . .
    #6 CACHED
rawjson: one JSON object per event, shaped like BuildKit's SolveStatus (`vertexes`, `logs` with
base64 data). tty: the same vertices redrawn in place with timings (rich). Each vertex keeps the
tail of its output so a failing step can show it after the live view is gone.
"""

from __future__ import annotations

import base64
import collections
import json
import sys
import threading
import time
from typing import IO

TAIL_LINES = 10


class Vertex:
    """One step on the display."""

    def __init__(self, progress: "Progress", number: int, name: str):
        self.progress = progress
        self.number = number
        self.name = name
        self.started: float | None = None
        self.completed: float | None = None
        self.cached = False
        self.error: str | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._partial = b""

    def start(self) -> None:
        """The step begins (printed now in plain mode)."""
        self.started = time.monotonic()
        self.progress.event(self, "start")

    def log(self, data: bytes) -> None:
        """Output of the step (a RUN's stdout/stderr), line-buffered for display."""
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            self.tail.append(line)
            self.progress.event(self, "log", line)

    def _flush(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self.log(partial + b"\n")

    def set_cached(self) -> None:
        """The step's result came from the cache."""
        self.cached = True
        if self.started is None:
            self.start()
        self.completed = time.monotonic()
        self.progress.event(self, "cached")

    def done(self) -> None:
        """The step finished."""
        self._flush()
        if self.started is None:
            self.start()
        self.completed = time.monotonic()
        self.progress.event(self, "done")

    def fail(self, message: str) -> None:
        """The step failed with `message`."""
        self._flush()
        if self.started is None:
            self.start()
        self.completed = time.monotonic()
        self.error = message
        self.progress.event(self, "error", message)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.completed or time.monotonic()) - self.started


class Progress:
    """Allocates vertex numbers and renders events in one of the modes."""

    def __init__(self, mode: str = "plain", out: IO[str] | None = None):
        self.out = out or sys.stderr
        if mode == "auto":
            mode = "tty" if self.out.isatty() else "plain"
        self.mode = mode
        self.vertices: list[Vertex] = []
        self._lock = threading.Lock()
        self._live = None

    def vertex(self, name: str) -> Vertex:
        """A new numbered step."""
        with self._lock:
            v = Vertex(self, len(self.vertices) + 1, name)
            self.vertices.append(v)
            return v

    def event(self, v: Vertex, kind: str, text: str = "") -> None:
        with self._lock:
            if self.mode == "plain":
                self._plain(v, kind, text)
            elif self.mode == "rawjson":
                self._json(v, kind, text)
            elif self.mode == "tty":
                self._tty(v, kind)
            self.out.flush()

    def _plain(self, v: Vertex, kind: str, text: str) -> None:
        w = self.out.write
        if kind == "start":
            w(f"\n#{v.number} {v.name}\n")
        elif kind == "log":
            w(f"#{v.number} {v.elapsed:.3f} {text}\n")
        elif kind == "cached":
            w(f"#{v.number} CACHED\n")
        elif kind == "done":
            w(f"#{v.number} DONE {v.elapsed:.1f}s\n")
        elif kind == "error":
            w(f"#{v.number} ERROR: {text}\n")

    def _json(self, v: Vertex, kind: str, text: str) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        digest = f"vertex:{v.number}"
        if kind == "log":
            doc = {"logs": [{"vertex": digest, "stream": 1, "timestamp": now,
                             "data": base64.b64encode((text + "\n").encode()).decode()}]}
        else:
            vertex = {"digest": digest, "name": v.name, "started": now}
            if kind in ("cached", "done", "error"):
                vertex["completed"] = now
            if v.cached:
                vertex["cached"] = True
            if v.error:
                vertex["error"] = v.error
            doc = {"vertexes": [vertex]}
        self.out.write(json.dumps(doc) + "\n")

    def _tty(self, v: Vertex, kind: str) -> None:
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.out), refresh_per_second=8, transient=False,
                              get_renderable=self._render)
            self._live.start()

    def _render(self):  # noqa: ANN202 - rich renderable
        from rich.text import Text

        lines = Text()
        for v in self.vertices:
            state = "CACHED" if v.cached else ("ERROR" if v.error else (f"{v.elapsed:.1f}s"))
            mark = "=>" if v.completed is not None else "=> "
            lines.append(f"{mark} {v.name}", style="blue" if v.completed is not None else "")
            lines.append(f"  {state}\n", style="red" if v.error else "dim")
            if v.completed is None and v.tail:
                for line in list(v.tail)[-5:]:
                    lines.append(f"   {line}\n", style="dim")
        return lines

    def close(self) -> None:
        """Stop a live view (its last frame stays on the screen)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
