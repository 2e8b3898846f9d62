"""The layer codec: determinism, one-pass identities, whiteouts, and hostile streams."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import pytest
import zstandard

from imgtool.errors import LayerError
from imgtool.layer import compression, entries, overlay, writer
from imgtool.layer.reader import LayerReader, diff_id_of


def make_tree(root, mtime=None):
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "bin").mkdir()
    (root / "bin/tool").write_bytes(os.urandom(3000))
    os.chmod(root / "bin/tool", 0o4755)
    os.link(root / "bin/tool", root / "bin/alias")
    os.symlink("tool", root / "bin/link")
    os.mkfifo(root / "fifo")
    os.setxattr(root / "bin/tool", "user.note", b"\xff\x00binary")
    if mtime is not None:
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)


def write(root, kind="gzip", epoch=None):
    out = io.BytesIO()
    result = writer.write_layer(entries.from_directory(root), out, kind, epoch)
    return result, out.getvalue()


@pytest.mark.parametrize("kind", ["gzip", "zstd", "none"])
def test_identities_match_the_bytes(tmp_path, kind):
    make_tree(tmp_path / "t")
    result, blob = write(tmp_path / "t", kind)
    assert result.digest.encoded == hashlib.sha256(blob).hexdigest()
    assert result.size == len(blob)
    tar = compression.open_decompressed(io.BytesIO(blob)).read()
    assert result.diff_id.encoded == hashlib.sha256(tar).hexdigest()
    assert diff_id_of(io.BytesIO(blob)) == result.diff_id
    assert compression.detect(blob[:4]) == kind


def test_same_tree_different_mtimes_same_layer_with_epoch(tmp_path):
    make_tree(tmp_path / "a", mtime=2_000_000_000)
    make_tree(tmp_path / "b", mtime=2_100_000_000)
    (tmp_path / "b/bin/tool").write_bytes((tmp_path / "a/bin/tool").read_bytes())
    os.utime(tmp_path / "b/bin/tool", (2_100_000_000, 2_100_000_000))
    os.setxattr(tmp_path / "b/bin/tool", "user.note", b"\xff\x00binary")
    os.chmod(tmp_path / "b/bin/tool", 0o4755)
    ra, _ = write(tmp_path / "a", epoch=1_700_000_000)
    rb, _ = write(tmp_path / "b", epoch=1_700_000_000)
    assert ra == rb
    rc, _ = write(tmp_path / "b")  # without the clamp, mtimes differ and so does the layer
    assert rc.diff_id != ra.diff_id


def test_tar_is_canonical(tmp_path):
    make_tree(tmp_path / "t")
    _, blob = write(tmp_path / "t", "none", epoch=1000)
    assert blob[:10] != b"\x1f\x8b" and len(blob) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert all(m.uname == "" and m.gname == "" and m.mtime == 1000 for m in members)
    assert not any("atime" in m.pax_headers or "ctime" in m.pax_headers for m in members)
    by_name = {m.name: m for m in members}
    # hardlinks collapse onto the first name in order; the second carries no data
    assert by_name["bin/alias"].isreg() and by_name["bin/tool"].islnk()
    assert by_name["bin/tool"].linkname == "bin/alias"
    assert by_name["bin/alias"].mode == 0o4755
    assert by_name["bin/link"].issym() and by_name["fifo"].isfifo()
    assert by_name["bin/alias"].pax_headers["SCHILY.xattr.user.note"].encode("utf-8", "surrogateescape") == b"\xff\x00binary"


def test_gzip_header_is_fixed(tmp_path):
    make_tree(tmp_path / "t")
    _, blob = write(tmp_path / "t", "gzip")
    assert blob[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(blob)  # standard tools read it


def test_multi_member_gzip_and_multi_frame_zstd_are_read_whole():
    first, second = b"a" * 1000, b"b" * 1000
    gz = gzip.compress(first) + gzip.compress(second)
    assert compression.open_decompressed(io.BytesIO(gz)).read() == first + second
    zc = zstandard.ZstdCompressor()
    zs = zc.compress(first) + zc.compress(second)
    assert compression.open_decompressed(io.BytesIO(zs)).read() == first + second


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_truncated_stream_is_an_error(tmp_path, kind):
    (tmp_path / "t").mkdir()
    (tmp_path / "t/big").write_bytes(os.urandom(200_000))
    _, blob = write(tmp_path / "t", kind)
    with pytest.raises(LayerError, match="truncated"):
        diff_id_of(io.BytesIO(blob[: len(blob) // 2]))


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_corrupt_stream_is_an_error(tmp_path, kind):
    """Each codec's own error becomes a one-line LayerError (only that codec is loaded to read it)."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t/f").write_bytes(b"x" * 100_000)
    _, blob = write(tmp_path / "t", kind)
    if kind == "gzip":
        bad = blob[:-8] + b"\0\0\0\0" + blob[-4:]  # wrong CRC
    else:
        bad = blob[:-4] + bytes(b ^ 0xFF for b in blob[-4:])  # wrong frame checksum
    with pytest.raises(LayerError, match=f"corrupt {kind} stream"):
        diff_id_of(io.BytesIO(bad))


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(compression, "RATIO_GRACE", 1 << 20)
    bomb = zstandard.ZstdCompressor(level=1).compress(b"\0" * (16 << 20))
    with pytest.raises(LayerError, match="decompression bomb"):
        compression.open_decompressed(io.BytesIO(bomb)).read()


def test_output_cap(monkeypatch):
    monkeypatch.setattr(compression, "MAX_OUTPUT", 1 << 20)
    blob = gzip.compress(os.urandom(2 << 20), compresslevel=1)
    with pytest.raises(LayerError, match="expands past"):
        compression.open_decompressed(io.BytesIO(blob)).read()


def _tar_with(name: str, linkname: str = "", type_=tarfile.REGTYPE) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = type_, linkname
        tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


@pytest.mark.parametrize("name,link,type_", [
    ("../escape", "", tarfile.REGTYPE),
    ("..", "", tarfile.DIRTYPE),
    ("../", "", tarfile.DIRTYPE),
    ("a/../../escape", "", tarfile.REGTYPE),
    ("/etc/passwd", "", tarfile.REGTYPE),
    ("ok", "../../etc/passwd", tarfile.LNKTYPE),
    ("ok", "/etc/passwd", tarfile.LNKTYPE),
])
def test_names_escaping_the_root_are_refused(name, link, type_):
    with pytest.raises(LayerError, match=r"absolute path|'\.\.'"):
        for _ in LayerReader(io.BytesIO(_tar_with(name, link, type_))):
            pass


def test_not_a_tar_is_an_error():
    with pytest.raises(LayerError):
        diff_id_of(io.BytesIO(b"this is not a tar archive at all" * 40))


def test_overlay_upper_becomes_whiteouts(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc/new").write_text("n")
    os.mknod(upper / "etc/gone", 0o600 | 0o020000, os.makedev(0, 0))  # overlay's deletion marker
    (upper / "opaque").mkdir()
    os.setxattr(upper / "opaque", "trusted.overlay.opaque", b"y")
    (upper / "opaque/kept").write_text("k")
    out = io.BytesIO()
    writer.write_layer(overlay.changes_from_upper(upper), out, "none")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = {m.name: m for m in tar.getmembers()}
    assert set(names) == {"etc", "etc/new", "etc/.wh.gone", "opaque", "opaque/.wh..wh..opq", "opaque/kept"}
    assert names["etc/.wh.gone"].isreg() and names["etc/.wh.gone"].size == 0
    assert not any(k.startswith("SCHILY.xattr.trusted.overlay") for m in names.values() for k in m.pax_headers)
