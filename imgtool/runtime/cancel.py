"""Cancelling a build's steps: one flag that every step checks, and the hooks that kill what runs.

Why a module of its own: the builder checks the flag before every file step, cached or not, and a
fully cached build starts no container; importing runtime/step.py (containers, bundles, the tty,
snapshots) only to read a flag was ~10 ms, a tenth of such a build. step.py registers how to kill
its running containers when it is first imported, so nothing that runs is ever missed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from imgtool.errors import ImgtoolError


class Interrupted(ImgtoolError):
    """The build was interrupted (Ctrl-C): every step container was killed and removed."""

    exit_code = 130


_cancelled = threading.Event()
_killers: list[Callable[[], None]] = []


def on_cancel(kill: Callable[[], None]) -> None:
    """Have `cancel_all` call `kill` (which stops whatever that module is running)."""
    _killers.append(kill)


def cancel_all() -> None:
    """Refuse later steps and kill the running ones (from any thread, e.g. the main thread on
    SIGINT). Their callers see `Interrupted` and clean up after themselves."""
    _cancelled.set()
    for kill in list(_killers):
        kill()


def cancelled() -> bool:
    """Whether `cancel_all` was called since the last `reset_cancel`."""
    return _cancelled.is_set()


def check_cancelled() -> None:
    """Raise `Interrupted` if `cancel_all` was called (file steps check before they start)."""
    if _cancelled.is_set():
        raise Interrupted("build interrupted")


def reset_cancel() -> None:
    """Allow steps again (a new build in the same process)."""
    _cancelled.clear()
