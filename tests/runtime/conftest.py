"""Fixtures for runtime tests: a moby-style breakout sandbox (flat and through snapshots), and
`clean_host`, which asserts a test left no mount, state, cgroup or writable layer behind."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from imgtool.runtime import container as ctr
from imgtool.runtime import state as rt_state
from imgtool.layer.layer import Layer
from imgtool.layer.verify import VerifiedLayer
from imgtool.runtime.applier import apply_layer
from imgtool.runtime.snapshots import Snapshots, in_private_mounts, mount_overlay

from .layers import E, layer_of, tar_bytes, tree

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
        self._layers: list[Layer] = []

    def _victim_state(self):
        st = os.stat(self.victim / "hello")
        return sorted(os.listdir(self.victim)), (self.victim / "hello").read_bytes(), st.st_mode, st.st_mtime_ns

    def apply(self, *layers: list[E] | bytes) -> None:
        for layer in layers:
            blob = layer if isinstance(layer, bytes) else tar_bytes(layer)
            if self.mode == "flat":
                with VerifiedLayer(io.BytesIO(blob)) as stream:
                    apply_layer(stream, self.dest)
            else:
                self._layers.append(layer_of(blob))
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


def _leftovers(store) -> tuple[set, set, set]:
    """Mounts of this store, container state dirs, and imgtool container cgroups, as they are now.

    Other tests may run containers concurrently, so checks compare before/after sets.
    """
    mounts = {line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(store.path) in line}
    states = set(Path(rt_state.STATE_ROOT).iterdir()) if Path(rt_state.STATE_ROOT).exists() else set()
    return mounts, states, _imgtool_cgroups()


def _imgtool_cgroups() -> set[str]:
    """Every cgroup directly under a cgroup named `imgtool`, in any hierarchy. os.walk, not rglob:
    other tests' containers come and go, and rglob fails on a directory that vanishes mid-walk."""
    return {os.path.join(top, name) for top, names, _ in os.walk("/sys/fs/cgroup")
            if os.path.basename(top) == "imgtool" for name in names}


@pytest.fixture
def clean_host(busybox_store):
    """Asserts after the test that no cgroup, mount, state or writable layer was left behind."""
    mounts, states, cgroups = _leftovers(busybox_store)
    yield busybox_store
    after = _leftovers(busybox_store)
    assert after[0] <= mounts, "a mount was left behind"
    assert after[1] <= states, "container state was left in /run/imgtool"
    assert after[2] <= cgroups, f"cgroups left behind: {after[2] - cgroups}"
    containers = busybox_store.snapshots_dir / "containers"
    assert not containers.exists() or not list(containers.iterdir()), "a writable layer was left behind"
