"""Hostile layers, special files and metadata (T31-T35): devices bounded, setuid kept through chown,
ids and times range-checked, the xattr policy of applier.py.

Every test runs against a `sandbox` (flat apply and snapshot/overlay apply, unless a case only
concerns one); the fixture asserts afterwards that the sibling `victim` directory is unchanged and
nothing appeared next to the root.
"""

from __future__ import annotations

import os
import tarfile

import pytest

from imgtool.errors import LayerError

from .layers import content, d, E, gnu_tar, reg, sym


def test_t31_devices_created_and_bounded(sandbox):
    sandbox.apply([E("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
                   E("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0)])
    v = sandbox.view()
    assert v["dev/null"][0] == "c" and content(v, "dev/null") == (1, 3) and content(v, "dev/sda") == (8, 0)


def test_t31_huge_device_number_rejected(flat):
    info = tarfile.TarInfo("dev/x")
    info.type, info.devmajor = tarfile.CHRTYPE, 2**33
    with pytest.raises(LayerError, match="device number"):
        flat.apply(gnu_tar(info))


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
