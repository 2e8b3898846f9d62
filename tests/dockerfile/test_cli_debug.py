"""`imgtool debug parse`: BuildKit dump byte for byte, JSON, one-line errors without traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imgtool.cli.main import app

from .corpus import CONFORMANCE

CASE = CONFORMANCE / "buildkit-parser" / "testfiles" / "flags"


@pytest.mark.skipif(not CASE.is_dir(), reason=f"shared vectors not found at {CASE}")
def test_dump_matches_corpus_result() -> None:
    result = CliRunner().invoke(app, ["debug", "parse", str(CASE / "Dockerfile")])
    assert result.exit_code == 0
    assert result.stdout_bytes == (CASE / "result").read_bytes()


def test_json_format_with_file_option(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("ARG V=1\nFROM alpine:$V AS base\nRUN <<EOF\necho\nEOF\n")
    result = CliRunner().invoke(app, ["debug", "parse", "--format", "json", "-f", str(path)])
    document = json.loads(result.stdout)
    assert [i["instruction"] for i in document["instructions"]] == ["ARG", "FROM", "RUN"]
    assert document["instructions"][2]["heredocs"][0]["content"] == "echo\n"
    assert document["stages"][0]["name"] == "base"
    assert document["meta_args"] == [{"name": "V", "default": "1", "line": 1}]


def test_user_error_is_one_line_and_nonzero(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a\nRUN <<EOF\n")
    proc = subprocess.run(
        [sys.executable, "-c", "from imgtool.cli.main import run; run()", "debug", "parse", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert proc.stderr == "imgtool: Dockerfile:2: unterminated heredoc\n"
