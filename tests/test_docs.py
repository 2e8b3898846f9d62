"""The fenced commands of README.md and docs/*.md run as written (issue 14).

Blocks tagged `sh` run with bash (errexit, pipefail) in a fresh directory that sees the checkout's
`dockerfiles/` and `scripts/`, with a store holding
busybox:latest at $IMGTOOL_ROOT; blocks tagged `python` run with this interpreter. Usage synopses
and recipes for other hosts are tagged `text` and are not run. README's `make demo` / `make test`
are the fresh-machine test's (tests/setup) and tests/test_demo.py's to run, not this one's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^( *)```(\w+)[^\n]*\n(.*?)^\1```", re.M | re.S)
_NOT_HERE = {"make demo", "make test"}


def blocks() -> list:
    out = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        for m in _FENCE.finditer(text):
            lang, body = m.group(2), textwrap.dedent(m.group(3))
            if lang in ("sh", "python"):
                line = text[: m.start()].count("\n") + 1
                out.append(pytest.param(lang, body, id=f"{doc.relative_to(REPO)}:{line}"))
    return out


def test_docs_have_runnable_blocks():
    ids = [p.id for p in blocks()]
    assert any(i.startswith("docs/architecture.md") for i in ids)
    assert any(i.startswith("docs/dockerfile.md") for i in ids)


def test_no_roadmap_words():
    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            assert not re.search(r"\buntil\b.*\blands?\b|\bwhen (it|those|that) lands?\b|\(next issue\)", line), \
                f"{doc.name}:{n}: {line}"


@pytest.mark.parametrize("lang,body", blocks())
def test_fenced_block_runs_as_written(lang, body, busybox_store, tmp_path):
    if lang == "python":
        proc = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    else:
        script = "\n".join(line for line in body.splitlines() if line.split("#")[0].strip() not in _NOT_HERE)
        for top in ("dockerfiles", "scripts"):  # commands are written to run from the checkout's root
            (tmp_path / top).symlink_to(REPO / top)
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
    assert proc.returncode == 0, f"{body}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
