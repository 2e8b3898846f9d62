"""Unpack progress: a rich bar per layer on a terminal, one line per layer otherwise, nothing with -q.

Why a bar fed by polling: the applier is a tight per-entry loop that should not call out for every
file; the bar reads how much of the layer's blob the verifier has consumed, ten times a second,
from its own thread. rich is imported only when a bar is shown (never off a terminal).
Plain lines read like docker's layer lines (`Unpacking layer 1a2b3c4d5e6f done`) and go to stderr.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from imgtool.layer.layer import Layer


def _short(layer: Layer) -> str:
    return layer.digest.encoded[:12]


class Silent:
    """`-q`: nothing at all; the base of the other displays."""

    def start(self, layer: Layer, read: Callable[[], int]) -> None:
        """A layer starts; `read()` says how many of its blob's bytes have been consumed so far."""

    def done(self, layer: Layer) -> None:
        """A layer is applied and verified."""

    def close(self) -> None:
        """Tear down any display."""


class Lines(Silent):
    """One line per layer when it is done (logs, pipes, CI)."""

    def __init__(self, out: TextIO = sys.stderr):
        self.out = out

    def done(self, layer: Layer) -> None:
        print(f"Unpacking layer {_short(layer)} done", file=self.out, flush=True)


class Bars(Silent):
    """rich bars: one per layer, bytes of its blob and the rate."""

    def __init__(self) -> None:
        from rich import progress as rp
        from rich.console import Console

        self._p = rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(), rp.DownloadColumn(),
                              rp.TransferSpeedColumn(), console=Console(file=sys.stderr))
        self._p.start()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self, layer: Layer, read: Callable[[], int]) -> None:
        task = self._p.add_task(f"Unpacking layer {_short(layer)}", total=layer.size)

        def poll() -> None:
            while not self._stop.wait(0.1):
                self._p.update(task, completed=read())

        self._task = task
        self._stop.clear()
        self._poller = threading.Thread(target=poll, name="unpack-progress", daemon=True)
        self._poller.start()

    def done(self, layer: Layer) -> None:
        self._halt()
        self._p.update(self._task, completed=layer.size, description=f"Unpacking layer {_short(layer)} done")

    def _halt(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None

    def close(self) -> None:
        self._halt()
        self._p.stop()


def for_terminal(quiet: bool) -> Silent:
    """Silent with -q, bars when stderr is a terminal, lines otherwise."""
    if quiet:
        return Silent()
    return Bars() if sys.stderr.isatty() else Lines()
