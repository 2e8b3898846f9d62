"""The store as an API: names, digests, concurrency, prune, determinism of import."""

from __future__ import annotations

import io
import multiprocessing
import os
import tarfile

import pytest

from imgtool.errors import DigestMismatchError, NotFoundError
from imgtool.oci import digest as digests
from imgtool.store import Store, rootfs
from imgtool.store.blobs import BlobWriter


def test_busybox_is_named_and_resolvable(busybox_store):
    image = busybox_store.resolve("busybox")
    assert busybox_store.resolve("docker.io/library/busybox:latest").descriptor == image.descriptor
    assert busybox_store.resolve(image.id[len("sha256:"):][:12]).descriptor == image.descriptor
    assert busybox_store.resolve(str(image.descriptor.digest)).descriptor == image.descriptor
    [entry] = busybox_store.images()
    assert entry.name == "busybox"
    assert entry.descriptor.annotations["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    with pytest.raises(NotFoundError):
        busybox_store.resolve("busybox:other")


def test_tag_replaces_and_untag_removes(busybox_store):
    d = busybox_store.find("busybox").descriptor
    busybox_store.tag(d, "localhost:5000/bb:v1")
    busybox_store.tag(d, "localhost:5000/bb:v1")  # idempotent
    names = sorted(e.name for e in busybox_store.images())
    assert names == ["busybox", "localhost:5000/bb:v1"]
    busybox_store.untag("busybox")
    assert [e.name for e in busybox_store.images()] == ["localhost:5000/bb:v1"]


def test_blob_writer_refuses_wrong_digest_and_leaves_nothing(store):
    with pytest.raises(DigestMismatchError):
        with store.blob_writer() as w:
            w.write(b"data")
            w.commit(digests.of_bytes(b"other"))
    assert not any(p.is_file() for p in store.path.joinpath("blobs").rglob("*"))
    assert not any(store.tmp_dir.iterdir())


def _write_same_blob(root: str, n: int) -> None:
    store = Store(__import__("pathlib").Path(root))
    data = b"x" * (1 << 20)
    for _ in range(n):
        store.write_blob(data)


def _tag_many(root: str, prefix: str, n: int) -> None:
    store = Store(__import__("pathlib").Path(root))
    d = store.find("busybox").descriptor
    for i in range(n):
        store.tag(d, f"{prefix}{i}")


def test_concurrent_writers_and_taggers(busybox_store):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_same_blob, args=(str(busybox_store.path), 20)) for _ in range(3)]
    procs += [ctx.Process(target=_tag_many, args=(str(busybox_store.path), f"p{k}-", 15)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    d = digests.of_bytes(b"x" * (1 << 20))
    assert busybox_store.blob_path(d).read_bytes() == b"x" * (1 << 20)
    names = {e.name for e in busybox_store.images()}
    assert {f"p{k}-{i}" for k in range(3) for i in range(15)} <= names  # no tag lost to a race


def test_prune_keeps_what_names_reach(busybox_store):
    image = busybox_store.resolve("busybox")
    orphan = busybox_store.write_blob(b"orphan")
    removed = busybox_store.prune().blobs
    assert removed == [orphan]
    assert busybox_store.resolve("busybox").descriptor == image.descriptor
    busybox_store.untag("busybox")
    removed = busybox_store.prune().blobs
    assert len(removed) == 3  # manifest, config, layer
    assert not any(p.is_file() for p in (busybox_store.path / "blobs").rglob("*"))


def _rootfs(tmp_path, name, mtime):
    root = tmp_path / name
    (root / "bin").mkdir(parents=True)
    (root / "bin/sh").write_bytes(b"#!shell\n" * 100)
    (root / "etc").mkdir()
    (root / "etc/hostname").write_text("x\n")
    for p in [root / "bin/sh", root / "etc/hostname", root / "bin", root / "etc"]:
        os.utime(p, (mtime, mtime))
    out = tmp_path / f"{name}.tar"
    with tarfile.open(out, "w") as tar:
        # different member order each time, too
        for p in (sorted(root.rglob("*")) if name == "a" else sorted(root.rglob("*"), reverse=True)):
            tar.add(p, p.relative_to(root).as_posix(), recursive=False)
    return out


def test_import_is_reproducible_with_source_date_epoch(store, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = _rootfs(tmp_path, "a", 1_750_000_000)
    b = _rootfs(tmp_path, "b", 1_760_000_000)
    with open(a, "rb") as f:
        da = rootfs.import_rootfs(store, f, ["a"], "rootfs.tar")
    with open(b, "rb") as f:
        db = rootfs.import_rootfs(store, f, ["b"], "rootfs.tar")
    assert da.digest == db.digest


def test_import_hardlink_before_target_in_tar(store, tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        link = tarfile.TarInfo("a/link")
        link.type, link.linkname = tarfile.LNKTYPE, "z/target"
        target = tarfile.TarInfo("z/target")
        target.size = 5
        tar.addfile(target, io.BytesIO(b"hello"))
        tar.addfile(link)
    out.seek(0)
    rootfs.import_rootfs(store, out, ["hl"], "hl.tar")
    image = store.resolve("hl")
    with store.open_blob(image.layers[0].digest) as blob, tarfile.open(fileobj=blob, mode="r|gz") as tar:
        members = {m.name: (m.type, m.linkname) for m in tar}
    # content moves to the first name in layer order; the other becomes the link
    assert members["a/link"] == (tarfile.REGTYPE, "")
    assert members["z/target"] == (tarfile.LNKTYPE, "a/link")
