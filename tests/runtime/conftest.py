"""Fixtures for runtime tests: a moby-style breakout sandbox, applied flat and through snapshots."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from imgtool.runtime.applier import apply_layer
from imgtool.runtime.snapshots import LayerSource, Snapshots, in_private_mounts, mount_overlay
from imgtool.runtime.stream import Expect

from .layers import E, sha, tar_bytes, tree

VICTIM_CONTENT = b"hello victim\n"


class Sandbox:
    """tmp/dest (or tmp/snap for snapshots) next to tmp/victim/hello, which must never change.

    `apply(*layers)` applies tar layers in order ("flat": straight into dest; "overlay": one
    snapshot per layer, each applied through an overlay of its parents) and `view()` returns the
    resulting root as `layers.tree` sees it.
    """

    def __init__(self, base: Path, mode: str):
        self.base = base
        self.mode = mode
        self.dest = base / "dest"
        self.dest.mkdir()
        self.victim = base / "victim"
        self.victim.mkdir()
        (self.victim / "hello").write_bytes(VICTIM_CONTENT)
        os.chmod(self.victim / "hello", 0o644)
        self.victim_before = self._victim_state()
        self.lowers: list[Path] = []
        self._layers: list[LayerSource] = []

    def _victim_state(self):
        st = os.stat(self.victim / "hello")
        return sorted(os.listdir(self.victim)), (self.victim / "hello").read_bytes(), st.st_mode, st.st_mtime_ns

    def apply(self, *layers: list[E] | bytes) -> None:
        for layer in layers:
            blob = layer if isinstance(layer, bytes) else tar_bytes(layer)
            if self.mode == "flat":
                apply_layer(io.BytesIO(blob), self.dest, Expect())
            else:
                self._layers.append(LayerSource(lambda b=blob: io.BytesIO(b), Expect(diff_id=sha(blob))))
                snaps = Snapshots(self.base / "snap", self.base / "scratch")
                try:
                    self.lowers = snaps.prepare(self._layers)
                except Exception:
                    self._layers.pop()
                    raise

    def view(self) -> dict[str, tuple]:
        if self.mode == "flat":
            return tree(self.dest)
        if not self.lowers:
            return {}
        upper, work, merged = (self.base / n for n in ("v-upper", "v-work", "v-merged"))
        for p in (upper, work, merged):
            p.mkdir(exist_ok=True)

        def job():
            mount_overlay(self.lowers, upper, work, merged)
            return tree(merged)

        return in_private_mounts(job)

    def assert_contained(self) -> None:
        assert self._victim_state() == self.victim_before, "VICTIM CHANGED: PATH ESCAPE"
        allowed = {"dest", "victim", "snap", "scratch", "v-upper", "v-work", "v-merged"}
        assert set(os.listdir(self.base)) <= allowed, f"unexpected files next to dest: {os.listdir(self.base)}"


@pytest.fixture(params=["flat", "overlay"])
def sandbox(request, tmp_path) -> Sandbox:
    box = Sandbox(tmp_path, request.param)
    yield box
    box.assert_contained()


@pytest.fixture
def flat(tmp_path) -> Sandbox:
    box = Sandbox(tmp_path, "flat")
    yield box
    box.assert_contained()
