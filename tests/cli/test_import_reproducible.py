"""`imgtool import` twice, the second time with every mtime changed: same manifest digest."""

from __future__ import annotations

import os
import subprocess


def test_same_rootfs_new_mtimes_same_digest(store, busybox_rootfs, imgtool, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "xf", str(busybox_rootfs), "-C", str(tree)], check=True)
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (2_000_000_000, 2_000_000_000), follow_symlinks=False)
    touched = tmp_path / "touched.tar"
    subprocess.run(["tar", "cf", str(touched), "--numeric-owner", "-C", str(tree), "."], check=True)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    first = imgtool("import", busybox_rootfs, "-t", "a", env=env, check=True).stdout.strip()
    second = imgtool("import", touched, "-t", "b", env=env, check=True).stdout.strip()
    assert first.startswith("sha256:") and first == second
    third = imgtool("import", touched, "-t", "c", check=True).stdout.strip()
    assert third != first  # without the clamp the new mtimes (and created time) show
