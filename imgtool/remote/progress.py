"""Transfer progress: a bar per blob with bytes/s on a terminal (rich), plain lines otherwise.

Plain lines use skopeo's words (`Copying blob 1a2b3c4d5e6f done`, `... skipped: already exists`) so
logs read like the tools users know; `-q` selects `Silent`. Progress goes to stderr: stdout carries
only results (the digest, the name). rich is imported only when stderr is a terminal: a piped or
logged run never pays for it, and never sees an escape code.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from typing import BinaryIO, Iterator, TextIO

from imgtool.oci.descriptor import Descriptor

_HOW = {"exists": "skipped: already exists", "mounted": "skipped: mounted", "copied": "done"}


def _short(d: Descriptor) -> str:
    return d.digest.encoded[:12]


class Progress:
    """The events the copy routine reports; this base class ignores them all."""

    def start(self, blob: Descriptor) -> None:
        """A blob starts moving."""

    def advance(self, blob: Descriptor, n: int) -> None:
        """`n` more bytes of a blob moved (called under the copy's lock)."""

    def done(self, blob: Descriptor, how: str) -> None:
        """A blob is in place: "copied", "mounted" or "exists"."""

    def finish(self, root: Descriptor) -> None:
        """Every blob and manifest is written."""

    def close(self) -> None:
        """Tear down any display."""


class Silent(Progress):
    """`-q`: nothing at all."""


class Lines(Progress):
    """One line per blob when it is done (logs, pipes, CI)."""

    def __init__(self, out: TextIO = sys.stderr):
        self.out = out
        self._lock = threading.Lock()

    def done(self, blob: Descriptor, how: str) -> None:
        with self._lock:
            print(f"Copying blob {_short(blob)} {_HOW.get(how, how)}", file=self.out, flush=True)

    def finish(self, root: Descriptor) -> None:
        print("Writing manifest to image destination", file=self.out, flush=True)


class Bars(Progress):
    """rich bars: one per blob, with size and transfer speed."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich import progress as rp

        self._p = rp.Progress(
            rp.TextColumn("{task.description}"), rp.BarColumn(), rp.DownloadColumn(),
            rp.TransferSpeedColumn(), console=Console(file=sys.stderr), transient=False)
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()
        self._p.start()

    def _task(self, blob: Descriptor) -> int:
        key = str(blob.digest)
        with self._lock:
            if key not in self._tasks:
                self._tasks[key] = self._p.add_task(f"blob {_short(blob)}", total=blob.size)
            return self._tasks[key]

    def start(self, blob: Descriptor) -> None:
        self._task(blob)

    def advance(self, blob: Descriptor, n: int) -> None:
        self._p.advance(self._task(blob), n)

    def done(self, blob: Descriptor, how: str) -> None:
        task = self._task(blob)
        self._p.update(task, completed=blob.size, description=f"blob {_short(blob)} {_HOW.get(how, how)}")

    def close(self) -> None:
        self._p.stop()


def for_terminal(quiet: bool, plain: bool = True) -> Progress:
    """Silent with -q, bars on a terminal, lines otherwise (`plain=False`: nothing otherwise, for
    `save` and `load`, which docker runs silently when not on a terminal)."""
    if quiet:
        return Silent()
    if sys.stderr.isatty():
        return Bars()
    return Lines() if plain else Silent()


@contextlib.contextmanager
def reading(stream: BinaryIO, what: str, quiet: bool) -> Iterator[BinaryIO]:
    """`stream` behind a bar of the bytes read and bytes/s on a terminal (`import`, `load` read one
    tarball start to end); the stream itself otherwise."""
    if quiet or not sys.stderr.isatty():
        yield stream
        return
    from rich.console import Console
    from rich.progress import wrap_file

    try:
        info = os.fstat(stream.fileno())
        total = info.st_size if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError, AttributeError):
        total = None
    with wrap_file(stream, total, description=what, console=Console(file=sys.stderr)) as f:  # type: ignore[arg-type]
        yield f
