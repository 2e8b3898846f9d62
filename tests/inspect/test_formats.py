"""What file content the scanner reads: archives (bounded, corrupt ones harmless), UTF-16, binary
key containers with and without keys, binaries' strings (self-validating tokens only)."""

from __future__ import annotations

import gzip
import io
import zipfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from imgtool.inspect import archives, content, keystores
from imgtool.inspect.match import BINARY, Where
from imgtool.inspect.rules import detect

from .shapes import Shapes
from .values import Gen
from .wide_decoys import _cert, _jks_truststore
from .wide_files import _jks


def test_a_decompression_bomb_costs_at_most_the_budget():
    bomb = gzip.compress(b"\0" * (64 << 20), mtime=0)
    assert list(archives.members("x.gz", bomb, 1 << 20, 4 << 20)) == []


def test_zstd_archives_are_read_as_gzip_ones_are_and_bounded_alike():
    import tarfile

    import zstandard

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("home/app/.env")
        info.size = len(b"TOKEN=1\n")
        tar.addfile(info, io.BytesIO(b"TOKEN=1\n"))
    zst = zstandard.ZstdCompressor().compress
    assert list(archives.members("backup.tar.zst", zst(buf.getvalue()), 1 << 20, 1 << 20)) == [
        ("home/app/.env", b"TOKEN=1\n")]
    assert list(archives.members("app.env.zst", zst(b"TOKEN=1\n"), 1 << 20, 1 << 20)) == [("app.env", b"TOKEN=1\n")]
    assert list(archives.members("x.zst", zst(b"\0" * (64 << 20)), 1 << 20, 4 << 20)) == []
    assert list(archives.members("x.zst", b"\x28\xb5\x2f\xfd" + b"junk" * 20, 1 << 20, 1 << 20)) == []  # corrupt: nothing


def test_a_zip_that_lies_about_its_sizes_or_is_cut_short_yields_what_it_can():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.env", "TOKEN=1\n")
    data = buf.getvalue()
    assert list(archives.members("a.zip", data, 1 << 20, 1 << 20)) == [("a.env", b"TOKEN=1\n")]
    assert list(archives.members("a.zip", data[: len(data) // 2], 1 << 20, 1 << 20)) == []


def test_utf16_files_are_text():
    token = Gen(11).github()
    (piece,) = content.pieces("app/x.ps1", b"\xff\xfe" + f"$t = '{token}'".encode("utf-16-le"), 1 << 20)
    assert [m.rule_id for m in detect(piece.text, piece.where)] == ["github-token"]
    (piece,) = content.pieces("app/y.txt", f"t={token}".encode("utf-16-le"), 1 << 20)   # no BOM
    assert token in piece.text


def test_key_containers_are_findings_only_with_a_key():
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(key)
    with_key = pkcs12.serialize_key_and_certificates(b"k", key, cert, None, serialization.BestAvailableEncryption(b"pw"))
    trust = pkcs12.serialize_key_and_certificates(None, None, None, [cert], serialization.NoEncryption())
    assert keystores.pkcs12(with_key).encrypted and keystores.pkcs12(trust) is None
    der = cert.public_bytes(serialization.Encoding.DER)
    assert keystores.java_keystore(_jks(Shapes(Gen(1)), der)) is not None
    assert keystores.java_keystore(_jks_truststore(der)) is None
    assert keystores.binary_key("etc/ssl/certs/c.der", der) is None


def test_binary_strings_keep_only_self_validating_tokens():
    g = Gen(12)
    good, broken = g.github(), "ghp_" + g.s(36)
    blob = b"\x7fELF\0\0" + good.encode() + b"\0\0" + broken.encode() + b"\0password=" + g.s(20).encode() + b"\0"
    (piece,) = content.pieces("usr/bin/tool", blob, 1 << 20)
    assert piece.where == Where(BINARY, "usr/bin/tool")
    assert [m.secret for m in detect(piece.text, piece.where)] == [good]
