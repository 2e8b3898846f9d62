"""Where the shared conformance corpus lives: $IMGTOOL_SHARED, else ../shared next to the repo."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("IMGTOOL_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared"))
CONFORMANCE = SHARED / "conformance"


def read_text(path: Path) -> str:
    """Read a corpus file keeping undecodable bytes, as the parser sees Dockerfiles."""
    return path.read_bytes().decode("utf-8", "surrogateescape")
