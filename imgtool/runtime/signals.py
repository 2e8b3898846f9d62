"""Signal names as runc, docker and Dockerfile STOPSIGNAL take them: 9, KILL, SIGKILL."""

from __future__ import annotations

import signal

from .state import RuntimeError_


def _realtime(name: str) -> int | None:
    # moby's SignalMap: RTMIN, RTMIN+1 .. RTMIN+15, RTMAX-14 .. RTMAX-1, RTMAX
    for base, sign, number in (("RTMIN", "+", signal.SIGRTMIN), ("RTMAX", "-", signal.SIGRTMAX)):
        if name == base:
            return int(number)
        offset = name.removeprefix(base + sign)
        if offset != name and offset.isascii() and offset.isdigit() and 1 <= int(offset) <= 15 - (sign == "-"):
            return int(number) + int(offset) * (1 if sign == "+" else -1)
    return None


def parse_signal(text: str | int) -> int:
    """'TERM', 'SIGKILL', '9', 'SIGRTMIN+3' -> signal number; anything else is an error (runc's
    parseSignal; the real-time names are docker's, which STOPSIGNAL and `docker kill -s` accept).
    A number is read as Go's Atoi reads it, so '+5' and '007' work: the builder keeps a STOPSIGNAL
    written so, as docker does, and stopping that image must not then fail. Negative numbers are
    no signal."""
    number = str(text).removeprefix("+")
    if isinstance(text, int) or (number.isascii() and number.isdigit()):
        return int(number)
    name = str(text).upper().removeprefix("SIG")
    number = _realtime(name)
    if number is not None:
        return number
    try:
        return int(signal.Signals["SIG" + name])
    except KeyError:
        raise RuntimeError_(f"unknown signal {text!r}", 1) from None
