"""Signal names as docker and runc take them (STOPSIGNAL, `kill -s`, `imgtool-runc kill`)."""

from __future__ import annotations

import signal

import pytest

from imgtool.runtime.signals import parse_signal
from imgtool.runtime.state import RuntimeError_


@pytest.mark.parametrize("text, number", [
    ("9", 9), (15, 15), ("+5", 5), ("007", 7), ("KILL", 9), ("sigterm", 15), ("SIGCLD", int(signal.SIGCHLD)),
    ("SIGRTMIN", int(signal.SIGRTMIN)), ("RTMIN+3", int(signal.SIGRTMIN) + 3),
    ("SIGRTMIN+15", int(signal.SIGRTMIN) + 15), ("RTMAX-14", int(signal.SIGRTMAX) - 14),
    ("SIGRTMAX", int(signal.SIGRTMAX)),
])
def test_names_docker_accepts(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["NOPE", "RTMIN+16", "RTMAX-15", "RTMIN+", "RTMIN-1", "\u0663", "", "-1", "++5"])
def test_names_docker_refuses(text):
    with pytest.raises(RuntimeError_, match="unknown signal"):
        parse_signal(text)
