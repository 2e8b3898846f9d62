"""Hostile layers, whiteouts (T23-T30): invalid names are refused, parents resolve in the root, and a
whiteout deletes only lower-layer content (layer.md), opaque directories included.

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations


import pytest

from imgtool.errors import LayerError

from .layers import content, d, link, reg, sym, wh


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
    assert content(v, ".wh.etc/somefile") == b"lit" and "etc/somefile" in v


def test_t28_same_layer_file_survives_its_whiteout(sandbox):
    sandbox.apply([reg("y", b"lower")], [reg("x", b"same"), wh(".wh.x"), reg("y", b"upper"), wh(".wh.y")])
    v = sandbox.view()
    assert content(v, "x") == b"same" and content(v, "y") == b"upper"


def test_t28_large_files_from_the_second_writer(sandbox):
    """Files of 1-64 MiB are written by the applier's second writer thread while later entries are
    applied: a same-layer whiteout still spares them, a hardlink to one still gets its content, and
    setuid survives (mode after owner, both after the content), as for small files."""
    big = bytes(range(256)) * (6 << 12)  # 6 MiB
    sandbox.apply([reg("y", b"lower"), reg("w", big)],
                  [reg("x", big), wh(".wh.x"), reg("y", big[::-1]), wh(".wh.y"), link("z", "x"),
                   reg("su", big, mode=0o4755, uid=0, gid=0), reg("x2", big + b"!"), wh(".wh.w")])
    v = sandbox.view()
    assert content(v, "x") == big and content(v, "z") == big and content(v, "y") == big[::-1]
    assert content(v, "x2") == big + b"!" and v["su"][1] == 0o4755 and "w" not in v


def test_t29_opaque_applies_first(sandbox):
    sandbox.apply([reg("a/b/c/bar"), reg("a/other")], [d("a"), d("a/b"), reg("a/b/c/foo", b"foo"), wh("a/.wh..wh..opq")])
    v = sandbox.view()
    assert "a/b/c/bar" not in v and "a/other" not in v and content(v, "a/b/c/foo") == b"foo"


def test_t30_overlay_whiteout_corner_cases(sandbox):
    sandbox.apply([reg("a/x"), reg("a/y"), reg("b/z")],
                  [wh("a/.wh..wh..opq"), wh("a/.wh.x"), wh("missing/.wh.q"), wh("b/.wh.z"), d("b/z"), reg("b/z/new")])
    v = sandbox.view()
    assert "a/x" not in v and "a/y" not in v and v["b/z"][0] == "d" and "b/z/new" in v
