"""The members of an archive inside a layer: tar (plain, gzip, zstd, bzip2, xz), zip (jar, war, whl,
apk) and single gzip/zstd/bzip2/xz files, read in memory with bounded sizes.

A backup tarball of a home directory or a jar with application.properties ships its secrets as
surely as a plain file (the Dahlmanns et al. image study recursed into archives for that reason;
gitleaks has `--max-archive-depth`). Sizes are bounded by what the members declare *and* by what is
actually decompressed, so a bomb costs at most `budget` bytes; a corrupt archive yields what could
be read before the damage, never an error (it is content, not the image's structure).
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from typing import Iterator

from imgtool.layer.compression import archive_format

_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, lzma.LZMAError, ValueError,
           NotImplementedError, RuntimeError, IndexError)


def _decompress(data: bytes, fmt: str, budget: int) -> bytes:
    if fmt == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(data, budget)
    if fmt == "bzip2":
        return bz2.BZ2Decompressor().decompress(data, budget)
    if fmt == "zstd":
        import zstandard  # only for an image that holds a zstd archive

        try:
            return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(budget)
        except zstandard.ZstdError as exc:
            raise ValueError(str(exc)) from None
    return lzma.LZMADecompressor().decompress(data, budget)


def _tar(data: bytes, limit: int, budget: int) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            if info.isreg() and 0 < info.size <= min(limit, budget):
                f = tar.extractfile(info)
                if f is not None:
                    budget -= info.size
                    yield info.name, f.read(info.size)


def _zip(data: bytes, limit: int, budget: int) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if info.is_dir() or info.flag_bits & 0x1 or not 0 < info.file_size <= min(limit, budget):
                continue
            with z.open(info) as f:
                content = f.read(info.file_size + 1)
            if len(content) > info.file_size:    # lies about its size: stop reading this archive
                return
            budget -= len(content)
            yield info.filename, content


def members(name: str, data: bytes, limit: int, budget: int) -> Iterator[tuple[str, bytes]]:
    """(member path, content) of every regular file in the archive `data` (named `name` in its
    layer), each at most `limit` bytes, `budget` bytes in all; nothing if `data` is no archive."""
    fmt = archive_format(data)
    try:
        if fmt == "zip":
            yield from _zip(data, limit, budget)
        elif fmt == "tar":
            yield from _tar(data, limit, budget)
        elif fmt in ("gzip", "zstd", "bzip2", "xz"):
            inner = _decompress(data, fmt, min(limit, budget) + 1)
            if len(inner) > min(limit, budget):
                return
            if archive_format(inner) == "tar":
                yield from _tar(inner, limit, budget)
            else:
                base = name.rsplit("/", 1)[-1]
                yield base.rsplit(".", 1)[0] if "." in base else base, inner
    except _ERRORS:
        return
