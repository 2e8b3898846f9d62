"""Signal names as runc, docker and Dockerfile STOPSIGNAL take them: 9, KILL, SIGKILL."""

from __future__ import annotations

import signal

from .state import RuntimeError_


def parse_signal(text: str | int) -> int:
    """'TERM', 'SIGKILL', '9' -> signal number; anything else is an error (runc's parseSignal)."""
    if isinstance(text, int) or str(text).isdigit():
        return int(text)
    name = str(text).upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise RuntimeError_(f"unknown signal {text!r}", 1) from None
