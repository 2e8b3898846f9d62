"""Hostile layers, hardlinks (T17-T22): targets resolve in the root without following their last
component (CVE-2021-32760), so a link can neither reach nor write through to the host.

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations

import os
import stat
import tarfile

import pytest

from imgtool.errors import LayerError

from .layers import content, d, E, link, reg, sym


@pytest.mark.parametrize("target", ["../victim/hello", "/../victim/hello"])
def test_t17_hardlink_outside_is_clamped_or_rejected(sandbox, target):
    with pytest.raises(LayerError, match="not in the image"):
        sandbox.apply([link("dotdot", target)])


def test_t17_hardlink_clamped_inside(sandbox):
    sandbox.apply([reg("victim/hello", b"inner"), link("dotdot", "../victim/hello")])
    assert content(sandbox.view(), "dotdot") == b"inner"


def test_t18_hardlink_to_directory_rejected(sandbox):
    with pytest.raises(LayerError):
        sandbox.apply([d("victim"), link("loophole-victim", "../victim"), reg("loophole-victim/file")])


def test_t19_hardlink_through_in_root_symlink(sandbox):
    sandbox.apply([reg("etc/passwd", b"pw"), d("breakouts"), sym("breakouts/d1", "../../etc"),
                   link("hl", "/breakouts/d1/passwd")])
    v = sandbox.view()
    assert content(v, "hl") == b"pw"


def test_t20_hardlink_to_symlink_links_the_symlink(sandbox, tmp_path):
    host = tmp_path / "victim" / "hello"
    sandbox.apply([sym("ep", str(host)), link("sketchylink", "ep"), E("sketchylink", tarfile.REGTYPE, mode=0o777),
                   sym("ep2", "../victim/hello"), link("sketchy2", "ep2")])
    v = sandbox.view()
    assert content(v, "sketchy2") == "../victim/hello"
    assert stat.S_IMODE(os.stat(host).st_mode) == 0o644


def test_t21_hardlink_odd_but_valid(sandbox):
    sandbox.apply([link("early", "late"), reg("late", b"L"), link("noparent/dir/l", "late"),
                   reg("existing", b"old"), link("existing", "late")], [link("cross", "late")])
    v = sandbox.view()
    assert content(v, "early") == content(v, "noparent/dir/l") == content(v, "existing") == content(v, "cross") == b"L"


def test_t22_file_replaces_hardlink_not_write_through(sandbox):
    sandbox.apply([reg("orig", b"orig"), link("x", "orig"), reg("x", b"new")])
    v = sandbox.view()
    assert content(v, "orig") == b"orig" and content(v, "x") == b"new"
