"""A deadline for one blocking read from a socket: past it, the socket is shut down, so the read
returns short instead of waiting on a peer that sends a byte just often enough.

Why not a socket timeout: it bounds each recv, not the read. http.client's `readinto` fills its
whole buffer one recv after another, so a registry that trickled a byte every few seconds kept one
`readinto`, and the blob download around it, going forever. One daemon thread serves every
deadline from a heap, so arming one costs a lock and a push, not a thread per read.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator


@dataclass(order=True)
class Deadline:
    """One armed deadline; `fired` once the watchdog shut its socket down."""

    when: float
    seq: int
    sock: socket.socket = field(compare=False)
    fired: bool = field(default=False, compare=False)
    done: bool = field(default=False, compare=False)


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[Deadline] = []
        self._changed = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, seconds: float) -> Deadline:
        deadline = Deadline(time.monotonic() + seconds, next(self._seq), sock)
        with self._changed:
            heapq.heappush(self._heap, deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="imgtool-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()
        return deadline

    def disarm(self, deadline: Deadline) -> None:
        with self._changed:
            deadline.done = True

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._changed.wait()
                    continue
                left = self._heap[0].when - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                expired = heapq.heappop(self._heap)
                expired.fired = expired.done = True
                with contextlib.suppress(OSError):  # already closed by its owner
                    expired.sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def cut_after(sock: socket.socket, seconds: float) -> Iterator[Deadline]:
    """Shut `sock` down if the block is still running after `seconds`; the yielded deadline says
    whether that happened (then the connection is dead: whatever was read so far is all there is)."""
    deadline = _WATCHDOG.arm(sock, seconds)
    try:
        yield deadline
    finally:
        _WATCHDOG.disarm(deadline)
