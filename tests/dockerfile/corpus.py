"""The shared conformance corpus (tests.conftest.shared: ../shared or $IMGTOOL_SHARED)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SHARED

CONFORMANCE = SHARED / "conformance"


def read_text(path: Path) -> str:
    """Read a corpus file keeping undecodable bytes, as the parser sees Dockerfiles."""
    return path.read_bytes().decode("utf-8", "surrogateescape")
