"""Fixtures for inspect tests: images built layer by layer into a fresh store, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, root: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m imgtool ARGS` against the store at `root`."""
    env = dict(os.environ, IMGTOOL_ROOT=str(root), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "imgtool", *args], capture_output=True, text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"imgtool {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def cli_json(*args: str, root: Path):
    """Parsed JSON stdout of the CLI."""
    return json.loads(run_cli(*args, root=root).stdout)


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory):
    """A store with the planted corpus image `corpus:1`; yields (root, truth, decoy count)."""
    from imgtool.store import Store

    from . import corpus, imagespec

    root = tmp_path_factory.mktemp("corpus") / "store"
    spec, truth, decoys = corpus.make()
    imagespec.build(Store.open(root), spec, "corpus:1")
    return root, truth, decoys


@pytest.fixture(scope="module")
def scenario_store(tmp_path_factory):
    """A store with the layer-metrics scenarios."""
    from imgtool.store import Store

    from . import imagespec, scenarios

    root = tmp_path_factory.mktemp("scenarios") / "store"
    store = Store.open(root)
    imagespec.build(store, scenarios.dive_test_image(), "dive:test")
    imagespec.build(store, scenarios.added_then_deleted(), "big:1")
    imagespec.build(store, scenarios.overwritten_twice(), "twice:1")
    imagespec.build(store, scenarios.opaque_directory(), "opaque:1")
    return root
