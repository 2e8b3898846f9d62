"""`imgtool unpack` trusts a layer only as imgtool.layer.verify's policy says: a (blob digest, DiffID)
pair the store recorded when it wrote the blob, or after a full verification passed. `--verify`
and an unrecorded pair still hash everything; the size and the gzip checksum are checked always."""

from __future__ import annotations

import io
import os
import random
import shutil
import tarfile

import pytest

from imgtool.errors import LayerError
from imgtool.layer.verify import TRUST_MEMO, trust_key
from imgtool.runtime.unpack import unpack_image
from imgtool.store import rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (layer owners are applied)")

SIZE = 3 << 20  # random: stored deflate blocks, so two seeds give blobs of the same size


def _import(store, name: str, seed: int):
    data = random.Random(seed).randbytes(SIZE)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        info = tarfile.TarInfo("payload")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    tar.seek(0)
    rootfs.import_rootfs(store, tar, [name], f"{name}.tar")
    return store.resolve(name).layers[0], data


def _overwrite(store, layer, content: bytes) -> None:
    path = store.blob_path(layer.digest)
    os.chmod(path, 0o644)
    path.write_bytes(content)


@pytest.fixture
def swapped(store):
    """Image `a` whose blob was replaced on disk by `b`'s blob of the same size (and valid gzip)."""
    a, _ = _import(store, "a", 1)
    b, b_data = _import(store, "b", 2)
    assert a.size == b.size
    _overwrite(store, a, store.blob_path(b.digest).read_bytes())
    return a, b_data


def _marker(store, layer):
    return store.validated._marker(TRUST_MEMO, trust_key(layer.descriptor, layer.diff_id))


def test_the_store_records_the_pair_of_a_layer_it_wrote(store):
    layer, data = _import(store, "a", 1)
    assert _marker(store, layer).exists()
    unpack_image(store, "a", store.path.parent / "bundle")
    assert (store.path.parent / "bundle/rootfs/payload").read_bytes() == data


def test_verify_catches_what_trust_does_not(store, swapped, imgtool):
    a, b_data = swapped
    r = imgtool("unpack", "-q", "--verify", "a", store.path.parent / "checked")
    assert r.returncode != 0 and "digest mismatch" in r.stderr and "Traceback" not in r.stderr, r
    assert not (store.path.parent / "checked").exists()
    # the documented limit of trust: a same-size, checksum-valid substitution on disk passes
    imgtool("unpack", "-q", "a", store.path.parent / "trusted", check=True)
    assert (store.path.parent / "trusted/rootfs/payload").read_bytes() == b_data


def test_an_unrecorded_pair_is_verified_and_a_failure_records_nothing(store, swapped):
    a, _ = swapped
    shutil.rmtree(store.path / "validated" / TRUST_MEMO)
    with pytest.raises(LayerError, match="digest mismatch"):
        unpack_image(store, "a", store.path.parent / "bundle")
    assert not _marker(store, a).exists()


def test_a_full_verification_that_passed_is_recorded(store):
    layer, _ = _import(store, "a", 1)
    shutil.rmtree(store.path / "validated" / TRUST_MEMO)
    unpack_image(store, "a", store.path.parent / "bundle")
    assert _marker(store, layer).exists()


def test_a_trusted_layer_still_fails_on_a_flipped_byte(store):
    layer, _ = _import(store, "a", 1)
    blob = bytearray(store.blob_path(layer.digest).read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # inside a stored block: still inflates, the gzip CRC-32 differs
    _overwrite(store, layer, bytes(blob))
    with pytest.raises(LayerError):
        unpack_image(store, "a", store.path.parent / "bundle")
    assert not (store.path.parent / "bundle").exists()
