"""Hostile layers T1-T43 (research/runtime.md §4.4): each is rejected or contained in the root.

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations

import errno
import io
import os
import stat
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
from .layers import E, d, gz, layer_of, link, reg, sha, sym, tar_bytes, wh


def f(view, path):
    return view[path][4]


# --- paths -------------------------------------------------------------------------------------
def test_t01_dotdot_name_is_clamped(sandbox):
    sandbox.apply([reg("../victim/x", b"evil")])
    assert f(sandbox.view(), "victim/x") == b"evil"


def test_t02_root_dotdot_is_clamped(sandbox):
    sandbox.apply([reg("/../victim/x", b"evil")])
    assert f(sandbox.view(), "victim/x") == b"evil"


def test_t03_absolute_name_lands_in_root(sandbox):
    sandbox.apply([reg("/etc/passwd", b"root")])
    assert f(sandbox.view(), "etc/passwd") == b"root"


@pytest.mark.parametrize("entry", [sym(".", "/tmp"), sym("./", "../victim"), reg(".", b"x"), link(".", "a")])
def test_t04_root_entry_must_be_a_directory(sandbox, entry):
    with pytest.raises(LayerError, match="root directory|root"):
        sandbox.apply([reg("a"), entry, reg("b", b"after")])


def test_t04_root_directory_entry_sets_metadata(flat):
    flat.apply([d("./", mode=0o750), reg("a")])
    assert flat.view()["."][1] == 0o750


@pytest.mark.parametrize("name", ["a\x00b", "x" * 256, "/".join(["d"] * 2100)])
def test_t05_bad_names_rejected(sandbox, name):
    with pytest.raises(LayerError):
        sandbox.apply([E(name, pax={"path": name})])


def test_t05_invalid_utf8_round_trips(flat):
    raw = b"caf\xe9"
    flat.apply(tar_bytes([reg(os.fsdecode(raw), b"bytes")], fmt=tarfile.GNU_FORMAT))
    assert os.listdir(flat.dest) == [os.fsdecode(raw)]


def test_t06_duplicates_last_wins(sandbox):
    sandbox.apply([reg("a", b"1"), reg("a", b"2"), reg("b"), d("b"), d("c"), reg("c", b"file"),
                   d("e"), sym("e", "../victim")])
    v = sandbox.view()
    assert f(v, "a") == b"2" and v["b"][0] == "d" and f(v, "c") == b"file" and f(v, "e") == "../victim"


# --- symlinks ----------------------------------------------------------------------------------
def test_t07_symlink_to_outside_then_write_through(sandbox):
    sandbox.apply([sym("loophole", "../victim"), reg("loophole/file", b"evil")])
    v = sandbox.view()
    assert f(v, "victim/file") == b"evil" and v["loophole"][0] == "l"


def test_t08_absolute_symlink_parent_is_chrooted(sandbox):
    sandbox.apply([d("etc"), sym("localetc", "/etc"), reg("/localetc/unbroken", b"ok")])
    assert f(sandbox.view(), "etc/unbroken") == b"ok"


@pytest.mark.parametrize("chain", [("/dummy/etc",), ("./dummy/etc",), ("/dummy/../etc",)])
def test_t09_symlink_chains(sandbox, chain):
    sandbox.apply([d("etc"), d("dummy"), sym("dummy/etc", "/etc"), sym("localetc", chain[0]),
                   reg("localetc/x", b"chained")])
    assert f(sandbox.view(), "etc/x") == b"chained"


def test_t10_parent_created_through_dangling_link(sandbox):
    sandbox.apply([d("dir"), sym("dir/loophole", "../../victim"), reg("dir/loophole/newdir/newfile", b"n")])
    assert f(sandbox.view(), "victim/newdir/newfile") == b"n"


def test_t11_same_layer_override(sandbox):
    sandbox.apply([d("foo"), reg("foo/tmp/f", b"1"), sym("foo", "/"), reg("foo/tmp/f", b"2"), d("foo"),
                   reg("foo/tmp/f", b"3")])
    v = sandbox.view()
    assert f(v, "foo/tmp/f") == b"3" and f(v, "tmp/f") == b"2"


def test_t12_cross_layer_symlink_then_write(sandbox):
    sandbox.apply([sym("x", "../../../../victim")], [reg("x/authorized_keys", b"ssh-rsa evil")])
    assert f(sandbox.view(), "victim/authorized_keys") == b"ssh-rsa evil"


def test_t13_symlink_loop_fails(sandbox):
    with pytest.raises(LayerError):
        sandbox.apply([sym("a", "b"), sym("b", "a"), reg("a/f", b"loop")])


@pytest.mark.parametrize("entries", [
    [sym("..", "/tmp"), reg("x")],
    [d("localetc"), sym("localetc/sub", "/etc"), reg("localetc/sub/../escaped", b"e")],
])
def test_t14_dotdot_and_empty_symlink_names(sandbox, entries):
    try:
        sandbox.apply(entries)
    except LayerError:
        return


def test_t14_empty_name_symlink_rejected(sandbox):
    with pytest.raises(LayerError):
        sandbox.apply([sym("", "/tmp")])


def test_t15_directory_replaced_by_symlink_and_back(sandbox):
    sandbox.apply([d("a"), reg("a/f"), d("b")], [sym("a", "/victim"), sym("b", "../victim")], [d("b"), reg("b/g", b"g")])
    v = sandbox.view()
    assert f(v, "a") == "/victim" and "a/f" not in v and v["b"][0] == "d" and f(v, "b/g") == b"g"


def test_t16_legit_absolute_and_dangling_symlinks_kept(sandbox):
    sandbox.apply([sym("etc/localtime", "/usr/share/zoneinfo/UTC"), sym("dangling", "/nonexistent/x")])
    v = sandbox.view()
    assert f(v, "etc/localtime") == "/usr/share/zoneinfo/UTC" and f(v, "dangling") == "/nonexistent/x"


# --- hardlinks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["../victim/hello", "/../victim/hello"])
def test_t17_hardlink_outside_is_clamped_or_rejected(sandbox, target):
    with pytest.raises(LayerError, match="not in the image"):
        sandbox.apply([link("dotdot", target)])


def test_t17_hardlink_clamped_inside(sandbox):
    sandbox.apply([reg("victim/hello", b"inner"), link("dotdot", "../victim/hello")])
    assert f(sandbox.view(), "dotdot") == b"inner"


def test_t18_hardlink_to_directory_rejected(sandbox):
    with pytest.raises(LayerError):
        sandbox.apply([d("victim"), link("loophole-victim", "../victim"), reg("loophole-victim/file")])


def test_t19_hardlink_through_in_root_symlink(sandbox):
    sandbox.apply([reg("etc/passwd", b"pw"), d("breakouts"), sym("breakouts/d1", "../../etc"),
                   link("hl", "/breakouts/d1/passwd")])
    v = sandbox.view()
    assert f(v, "hl") == b"pw"


def test_t20_hardlink_to_symlink_links_the_symlink(sandbox, tmp_path):
    host = tmp_path / "victim" / "hello"
    sandbox.apply([sym("ep", str(host)), link("sketchylink", "ep"), E("sketchylink", tarfile.REGTYPE, mode=0o777),
                   sym("ep2", "../victim/hello"), link("sketchy2", "ep2")])
    v = sandbox.view()
    assert f(v, "sketchy2") == "../victim/hello"
    assert stat.S_IMODE(os.stat(host).st_mode) == 0o644


def test_t21_hardlink_odd_but_valid(sandbox):
    sandbox.apply([link("early", "late"), reg("late", b"L"), link("noparent/dir/l", "late"),
                   reg("existing", b"old"), link("existing", "late")], [link("cross", "late")])
    v = sandbox.view()
    assert f(v, "early") == f(v, "noparent/dir/l") == f(v, "existing") == f(v, "cross") == b"L"


def test_t22_file_replaces_hardlink_not_write_through(sandbox):
    sandbox.apply([reg("orig", b"orig"), link("x", "orig"), reg("x", b"new")])
    v = sandbox.view()
    assert f(v, "orig") == b"orig" and f(v, "x") == b"new"


# --- whiteouts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh...", "etc/.wh..", "etc/.wh...", "etc/.wh..wh.x"])
def test_t23_invalid_whiteouts_rejected(sandbox, name):
    with pytest.raises(LayerError, match="invalid whiteout"):
        sandbox.apply([d("etc"), reg("etc/a")], [wh(name)])


def test_t24_whiteout_through_symlinked_parent(sandbox):
    sandbox.apply([reg("etc/whitedout"), reg("etc/kept"), sym("localetc", "/etc")], [wh("localetc/.wh.whitedout")])
    v = sandbox.view()
    assert "etc/whitedout" not in v and "etc/kept" in v


def test_t25_whiteout_of_symlink_removes_link_only(sandbox):
    sandbox.apply([reg("etc/x"), sym("localetc", "/etc")], [wh(".wh.localetc")])
    v = sandbox.view()
    assert "localetc" not in v and "etc/x" in v


def test_t26_whiteout_under_dangling_parent_is_noop(sandbox):
    sandbox.apply([reg("etc/x"), sym("dne", "/nowhere")], [wh("dne/.wh.x"), wh("dne/../.wh.etc")])
    v = sandbox.view()
    assert "etc" not in v and v["dne"][0] == "l"


def test_t27_whiteout_prefixed_directory_is_literal(sandbox):
    sandbox.apply([reg("etc/somefile")], [reg(".wh.etc/somefile", b"lit")])
    v = sandbox.view()
    assert f(v, ".wh.etc/somefile") == b"lit" and "etc/somefile" in v


def test_t28_same_layer_file_survives_its_whiteout(sandbox):
    sandbox.apply([reg("y", b"lower")], [reg("x", b"same"), wh(".wh.x"), reg("y", b"upper"), wh(".wh.y")])
    v = sandbox.view()
    assert f(v, "x") == b"same" and f(v, "y") == b"upper"


def test_t29_opaque_applies_first(sandbox):
    sandbox.apply([reg("a/b/c/bar"), reg("a/other")], [d("a"), d("a/b"), reg("a/b/c/foo", b"foo"), wh("a/.wh..wh..opq")])
    v = sandbox.view()
    assert "a/b/c/bar" not in v and "a/other" not in v and f(v, "a/b/c/foo") == b"foo"


def test_t30_overlay_whiteout_corner_cases(sandbox):
    sandbox.apply([reg("a/x"), reg("a/y"), reg("b/z")],
                  [wh("a/.wh..wh..opq"), wh("a/.wh.x"), wh("missing/.wh.q"), wh("b/.wh.z"), d("b/z"), reg("b/z/new")])
    v = sandbox.view()
    assert "a/x" not in v and "a/y" not in v and v["b/z"][0] == "d" and "b/z/new" in v


# --- special files and metadata ----------------------------------------------------------------
def test_t31_devices_created_and_bounded(sandbox):
    sandbox.apply([E("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
                   E("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0)])
    v = sandbox.view()
    assert v["dev/null"][0] == "c" and f(v, "dev/null") == (1, 3) and f(v, "dev/sda") == (8, 0)


def test_t31_huge_device_number_rejected(flat):
    info = tarfile.TarInfo("dev/x")
    info.type, info.devmajor = tarfile.CHRTYPE, 2**33
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info)
    with pytest.raises(LayerError, match="device number"):
        flat.apply(buf.getvalue())


def test_t32_setuid_setgid_sticky_survive_chown(sandbox):
    sandbox.apply([reg("su", mode=0o4755, uid=0, gid=0), reg("sg", mode=0o2755, uid=1000, gid=50),
                   d("tmp", mode=0o1777), reg("usu", mode=0o4711, uid=1000, gid=1000)])
    v = sandbox.view()
    assert v["su"][1] == 0o4755 and v["sg"][1:4] == (0o2755, 1000, 50) and v["tmp"][1] == 0o1777
    assert v["usu"][1:4] == (0o4711, 1000, 1000)


@pytest.mark.parametrize("uid", [4294967295, -1])
def test_t33_bad_ids_rejected(flat, uid):
    with pytest.raises((LayerError, ValueError)):
        flat.apply([reg("f", uid=uid if uid >= 0 else 0, pax={"uid": str(uid)})])


def test_t33_large_ids_accepted(sandbox):
    sandbox.apply([reg("f", pax={"uid": str(2**31), "gid": str(2**31 + 1)})])
    assert sandbox.view()["f"][2:4] == (2**31, 2**31 + 1)


def test_t34_xattr_policy(sandbox, tmp_path):
    cap = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    sandbox.apply([reg("ping", mode=0o755, pax={"SCHILY.xattr.security.capability": cap,
                                                "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t"}),
                   d("fake", pax={"SCHILY.xattr.trusted.overlay.opaque": "y"}),
                   sym("s", "t"), reg("u", pax={"SCHILY.xattr.user.test": "v"})],
                  [reg("fake/still")])
    if sandbox.mode == "flat":
        path = sandbox.dest
        assert os.getxattr(path / "ping", "security.capability") == cap.encode("latin-1")
        assert "security.selinux" not in os.listxattr(path / "ping")
        assert "trusted.overlay.opaque" not in os.listxattr(path / "fake")
        assert os.getxattr(path / "u", "user.test") == b"v"
    assert "fake/still" in sandbox.view()


def test_t34_oversized_xattr_is_one_error(flat):
    with pytest.raises(LayerError, match="xattr"):
        flat.apply([reg("f", pax={"SCHILY.xattr.user.big": "v" * 70000})])


@pytest.mark.parametrize("mtime", ["nan", "inf", "-1e30", "1e30", "1234567890.123456789"])
def test_t35_fifos_and_odd_times(sandbox, mtime):
    sandbox.apply([E("fifo", tarfile.FIFOTYPE, mode=0o640), reg("t", pax={"mtime": mtime}), d("dt", pax={"mtime": mtime})])
    v = sandbox.view()
    assert v["fifo"][0] == "p" and v["fifo"][1] == 0o640 and "t" in v


# --- resource exhaustion and integrity ---------------------------------------------------------
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
    assert "a" not in v and f(v, "l30/ok") == b"chained"
    with pytest.raises(LayerError):
        sandbox.apply([*(sym(f"m{i}", f"m{i + 1}") for i in range(300)), d("m300"), reg("m0/x")])


def test_t39_sparse_entries_rejected(flat):
    with pytest.raises(LayerError, match="sparse"):
        flat.apply([reg("s", pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "s",
                                  "GNU.sparse.realsize": str(2**40)})])
    info = tarfile.TarInfo("s2")
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info)
    with pytest.raises(LayerError, match="sparse"):
        flat.apply(buf.getvalue())


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
