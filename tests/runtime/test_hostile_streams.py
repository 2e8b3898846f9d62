"""Hostile layers, resource exhaustion and stream integrity (T36-T43): bombs, entry and header
budgets, sparse members, truncation, digest/DiffID mismatches, and a racing symlink swap.

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations

import os
import tarfile
import threading
import time

import pytest

from imgtool.errors import LayerError
from imgtool.layer import compression
from imgtool.runtime import applier
from imgtool.runtime.applier import apply
from imgtool.runtime.snapshots import Snapshots

from .conftest import VICTIM_CONTENT
from .layers import content, d, gnu_tar, gz, layer_of, reg, sha, sym, tar_bytes, wh


def test_t36_decompression_bomb_rejected(flat, monkeypatch):
    import zstandard

    monkeypatch.setattr(compression, "MAX_OUTPUT", 32 << 20)
    bomb = zstandard.ZstdCompressor(level=19).compress(tar_bytes([reg("zeros", b"\0" * (48 << 20))]))
    with pytest.raises(LayerError, match="expands"):
        flat.apply(bomb)


def test_t37_entry_count_budget(flat, monkeypatch):
    monkeypatch.setattr(applier, "MAX_ENTRIES", 100)
    with pytest.raises(LayerError, match="more than 100 entries"):
        flat.apply([reg(f"f{i}") for i in range(150)])


def test_t38_deep_nesting_and_symlink_chains(sandbox):
    deep = "/".join(["a"] * 600)  # deeper trees break pytest's own recursive tmp cleanup
    chain = [sym(f"l{i}", f"l{i + 1}") for i in range(30)] + [d("l30"), reg("l0/ok", b"chained")]
    sandbox.apply([reg(deep + "/leaf", b"deep"), *chain], [wh(".wh.a")])
    v = sandbox.view()
    assert "a" not in v and content(v, "l30/ok") == b"chained"
    with pytest.raises(LayerError):
        sandbox.apply([*(sym(f"m{i}", f"m{i + 1}") for i in range(300)), d("m300"), reg("m0/x")])


def test_t39_sparse_entries_rejected(flat):
    with pytest.raises(LayerError, match="sparse"):
        flat.apply([reg("s", pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "s",
                                  "GNU.sparse.realsize": str(2**40)})])
    info = tarfile.TarInfo("s2")
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    with pytest.raises(LayerError, match="sparse"):
        flat.apply(gnu_tar(info))


def test_t40_oversized_headers_rejected(flat):
    with pytest.raises(LayerError, match="header record"):
        flat.apply([reg("p", pax={"comment": "x" * (2 << 20)})])
    with pytest.raises(LayerError, match="header record"):
        flat.apply(tar_bytes([reg("n" * 100 + "/" + "m" * (2 << 20))], fmt=tarfile.GNU_FORMAT))


def test_t41_stream_integrity(flat):
    good = tar_bytes([reg("a", b"a" * 5000)])
    with pytest.raises(LayerError):
        flat.apply(good[:1500])
    with pytest.raises(LayerError):
        flat.apply(gz(good)[:-30])
    junk = tar_bytes([reg("j", b"j")], trailer=b"\0" * 700 + b"junk")
    assert apply(layer_of(gz(junk), sha(junk)), flat.dest) == sha(junk)
    multi = tar_bytes([reg("m1", b"1" * 3000), reg("m2", b"2" * 3000)])
    apply(layer_of(gz(multi[:2048]) + gz(multi[2048:]), sha(multi)), flat.dest)
    assert (flat.dest / "m2").read_bytes() == b"2" * 3000


def test_t41_zstd_skippable_frame(flat):
    import struct
    import zstandard

    data = tar_bytes([reg("z", b"zz")])
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"TOC!"
    apply(layer_of(zstandard.ZstdCompressor().compress(data) + skippable, sha(data)), flat.dest)
    assert (flat.dest / "z").read_bytes() == b"zz"


@pytest.mark.parametrize("mutation", ["digest", "size", "diff_id", "media_type"])
def test_t42_mismatches_reject_and_roll_back(tmp_path, mutation):
    data = tar_bytes([reg("f", b"content")])
    blob = gz(data)
    good = dict(media_type="application/vnd.oci.image.layer.v1.tar+gzip", digest=sha(blob), size=len(blob),
                diff_id=sha(data))
    bad = dict(good)
    bad[mutation] = {"digest": sha(blob + b"x"), "size": len(blob) + 1, "diff_id": sha(b"other"),
                     "media_type": "application/vnd.oci.image.layer.v1.tar+zstd"}[mutation]
    snaps = Snapshots(tmp_path / "snap", tmp_path / "scratch")
    with pytest.raises(LayerError, match="mismatch|media type"):
        snaps.prepare([layer_of(blob, **bad)])
    assert os.listdir(tmp_path / "snap" / "layers") == [] and os.listdir(tmp_path / "scratch") == []
    snaps.prepare([layer_of(blob, **good)])
    assert len(os.listdir(tmp_path / "snap" / "layers")) == 1


def test_t43_symlink_swap_race(flat):
    """A racer swaps dest/d between a directory and a symlink to victim while the layer writes into d."""
    entries = [d("d")] + [reg(f"d/f{i}", b"race") for i in range(3000)]
    stop = threading.Event()

    def racer():
        while not stop.is_set():
            try:
                os.rename(flat.dest / "d", flat.dest / "d.away")
                os.symlink(str(flat.victim), flat.dest / "d")
                time.sleep(0)
                os.unlink(flat.dest / "d")
                os.rename(flat.dest / "d.away", flat.dest / "d")
            except OSError:
                pass

    thread = threading.Thread(target=racer)
    thread.start()
    try:
        try:
            flat.apply(entries)
        except LayerError:
            pass
    finally:
        stop.set()
        thread.join()
    assert (flat.victim / "hello").read_bytes() == VICTIM_CONTENT
