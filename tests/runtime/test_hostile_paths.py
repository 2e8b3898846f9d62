"""Hostile layers, names and symlinks (T1-T16, research/runtime.md §4.4): names are clamped to the root,
and no symlink a layer plants can redirect a later write out of it (CVE-2021-29136, CVE-2018-15664).

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations

import os
import tarfile

import pytest

from imgtool.errors import LayerError

from .layers import content, d, E, link, reg, sym, tar_bytes


def test_t01_dotdot_name_is_clamped(sandbox):
    sandbox.apply([reg("../victim/x", b"evil")])
    assert content(sandbox.view(), "victim/x") == b"evil"


def test_t02_root_dotdot_is_clamped(sandbox):
    sandbox.apply([reg("/../victim/x", b"evil")])
    assert content(sandbox.view(), "victim/x") == b"evil"


def test_t03_absolute_name_lands_in_root(sandbox):
    sandbox.apply([reg("/etc/passwd", b"root")])
    assert content(sandbox.view(), "etc/passwd") == b"root"


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
    assert content(v, "a") == b"2" and v["b"][0] == "d" and content(v, "c") == b"file" and content(v, "e") == "../victim"


# --- symlinks ----------------------------------------------------------------------------------
def test_t07_symlink_to_outside_then_write_through(sandbox):
    sandbox.apply([sym("loophole", "../victim"), reg("loophole/file", b"evil")])
    v = sandbox.view()
    assert content(v, "victim/file") == b"evil" and v["loophole"][0] == "l"


def test_t08_absolute_symlink_parent_is_chrooted(sandbox):
    sandbox.apply([d("etc"), sym("localetc", "/etc"), reg("/localetc/unbroken", b"ok")])
    assert content(sandbox.view(), "etc/unbroken") == b"ok"


@pytest.mark.parametrize("chain", [("/dummy/etc",), ("./dummy/etc",), ("/dummy/../etc",)])
def test_t09_symlink_chains(sandbox, chain):
    sandbox.apply([d("etc"), d("dummy"), sym("dummy/etc", "/etc"), sym("localetc", chain[0]),
                   reg("localetc/x", b"chained")])
    assert content(sandbox.view(), "etc/x") == b"chained"


def test_t10_parent_created_through_dangling_link(sandbox):
    sandbox.apply([d("dir"), sym("dir/loophole", "../../victim"), reg("dir/loophole/newdir/newfile", b"n")])
    assert content(sandbox.view(), "victim/newdir/newfile") == b"n"


def test_t11_same_layer_override(sandbox):
    sandbox.apply([d("foo"), reg("foo/tmp/f", b"1"), sym("foo", "/"), reg("foo/tmp/f", b"2"), d("foo"),
                   reg("foo/tmp/f", b"3")])
    v = sandbox.view()
    assert content(v, "foo/tmp/f") == b"3" and content(v, "tmp/f") == b"2"


def test_t12_cross_layer_symlink_then_write(sandbox):
    sandbox.apply([sym("x", "../../../../victim")], [reg("x/authorized_keys", b"ssh-rsa evil")])
    assert content(sandbox.view(), "victim/authorized_keys") == b"ssh-rsa evil"


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
    assert content(v, "a") == "/victim" and "a/f" not in v and v["b"][0] == "d" and content(v, "b/g") == b"g"


def test_t16_legit_absolute_and_dangling_symlinks_kept(sandbox):
    sandbox.apply([sym("etc/localtime", "/usr/share/zoneinfo/UTC"), sym("dangling", "/nonexistent/x")])
    v = sandbox.view()
    assert content(v, "etc/localtime") == "/usr/share/zoneinfo/UTC" and content(v, "dangling") == "/nonexistent/x"
