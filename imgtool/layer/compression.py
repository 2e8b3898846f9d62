"""Layer compression: gzip through ISA-L, zstd through zstandard, plain tar; detected by content.

Writing gzip is `gzipstream.GzipWriter` (parallel, deterministic segments; zlib-ng deflates, ISA-L
probes); reading gzip is ISA-L's inflater, the fastest here (docs/benchmarks.md). The gzip member's
header is fixed (mtime 0, no name, OS 255): the same tar always gives the same compressed digest.

Reading is by magic bytes, not by media type, because registries and archives mislabel layers.
Decompressed output is bounded (size and ratio) so a hostile layer cannot fill the disk.
"""

from __future__ import annotations

import enum
import io
import os
from typing import BinaryIO

from imgtool.errors import ImgtoolError, LayerError
from imgtool.oci import mediatype

from .tee import TeeReader

# The codecs (zstandard, ISA-L, zlib-ng via gzipstream) are imported where a stream is opened:
# every command that merely names a Compression (images, inspect, --help) would otherwise load them.



class Compression(str, enum.Enum):
    """How a layer blob is compressed; the one name CLI flags, media types and the codec share."""

    GZIP = "gzip"
    ZSTD = "zstd"
    NONE = "none"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str, what: str = "--compression") -> "Compression":
        """A user's word for a compression (a flag value): one clear error for anything else."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ImgtoolError(f"{what} {text!r}: expected gzip, zstd or none") from None

    @classmethod
    def of_media_type(cls, media_type: str) -> "Compression":
        """The compression a layer media type announces (OCI or docker); unknown types are refused."""
        return cls(mediatype.layer_compression(media_type))

    def media_type(self, docker: bool = False) -> str:
        """The layer media type to write for this compression (OCI unless a docker one is asked for)."""
        table = mediatype.DOCKER_LAYER_BY_COMPRESSION if docker else mediatype.OCI_LAYER_BY_COMPRESSION
        return table[self.value]


GZIP = Compression.GZIP
ZSTD = Compression.ZSTD
NONE = Compression.NONE

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 3

# A layer may legitimately be large; a bomb is one whose output dwarfs its input.
MAX_OUTPUT = int(os.environ.get("IMGTOOL_MAX_LAYER_BYTES", 64 << 30))
MAX_RATIO = 1500  # deflate cannot exceed ~1032:1; zstd can, a real layer rarely does
RATIO_GRACE = 64 << 20  # small outputs are never judged on ratio



def detect(head: bytes) -> Compression:
    """Compression named by a blob's first bytes (anything else is assumed to be plain tar)."""
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZSTD_MAGIC):
        return ZSTD
    return NONE


def archive_format(head: bytes) -> str | None:
    """What an archive's first bytes (at least 262 for tar) say it is: gzip, zstd, bzip2, xz, zip
    or tar (ustar), else None. One answer for ADD's auto-extract and the secret scanner's walk
    into archives, so both agree on what is an archive."""
    for magic, fmt in ((GZIP_MAGIC, "gzip"), (ZSTD_MAGIC, "zstd"), (b"BZh", "bzip2"),
                       (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip")):
        if head.startswith(magic):
            return fmt
    return "tar" if head[257:262] == b"ustar" else None


class _Guarded(io.RawIOBase):
    """A decompressed stream that fails cleanly on corruption and on bomb-like output."""

    def __init__(self, inner: BinaryIO, source: TeeReader, kind: str):
        self.inner = inner
        self.source = source
        self.kind = kind
        self.produced = 0
        self._codec_errors = _codec_errors(kind)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(buffer))
        except EOFError:
            raise LayerError(f"truncated {self.kind} stream: compressed data ended early") from None
        except self._codec_errors as exc:
            raise LayerError(f"corrupt {self.kind} stream: {exc}") from None
        n = len(data)
        buffer[:n] = data
        self.produced += n
        if self.produced > MAX_OUTPUT:
            raise LayerError(f"layer expands past {MAX_OUTPUT} bytes (IMGTOOL_MAX_LAYER_BYTES)")
        if self.produced > RATIO_GRACE and self.produced > MAX_RATIO * max(self.source.count, 1):
            raise LayerError(f"{self.kind} stream expands more than {MAX_RATIO}:1: refusing a decompression bomb")
        return n


def _codec_errors(kind: str) -> tuple[type[BaseException], ...]:
    # only the codec in use is imported: zstandard is not loaded to read a gzip layer
    if kind == GZIP:
        from isal import isal_zlib

        return (OSError, isal_zlib.error)
    import zstandard

    return (OSError, zstandard.ZstdError)


def open_decompressed(stream: BinaryIO) -> BinaryIO:
    """A readable stream of the layer's tar bytes, whatever its compression.

    Multi-member gzip and multi-frame zstd are read to the end; truncation and corruption raise
    LayerError when reached.
    """
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, 1 << 20)  # type: ignore[arg-type]
    kind = detect(buffered.peek(4)[:4])  # type: ignore[union-attr]
    if kind == NONE:
        return buffered  # type: ignore[return-value]
    source = TeeReader(buffered)  # type: ignore[arg-type]
    counted = io.BufferedReader(source, 1 << 20)
    if kind == GZIP:
        from isal import igzip

        inner: BinaryIO = igzip.IGzipFile(fileobj=counted, mode="rb")  # type: ignore[assignment]
    else:
        inner = _ZstdFrames(counted)  # type: ignore[assignment]
    return io.BufferedReader(_Guarded(inner, source, kind), 1 << 20)  # type: ignore[return-value]


class _ZstdFrames(io.RawIOBase):
    """Concatenated zstd frames; unlike zstandard's stream_reader it notices a truncated frame."""

    def __init__(self, raw: BinaryIO):
        import zstandard

        self.raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self.raw.read(1 << 20)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd frame truncated")
                return 0
            self._pending = self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self._in_frame = True
            out.append(self._obj.decompress(chunk))
            if not self._obj.eof:
                break
            chunk = self._obj.unused_data
            self._obj = self._dctx.decompressobj()
            self._in_frame = False
        return b"".join(out)


class ZstdWriter(io.RawIOBase):
    """A zstd frame with content checksum; written without a content size so it can stream."""

    def __init__(self, out: BinaryIO, level: int = ZSTD_LEVEL):
        import zstandard

        self._writer = zstandard.ZstdCompressor(level=level, write_checksum=True).stream_writer(
            out, closefd=False
        )

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._writer.write(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._writer.close()
        super().close()


class _Plain(io.RawIOBase):
    def __init__(self, out: BinaryIO):
        self.out = out

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.out.write(data)
        return len(data)


def compressor(out: BinaryIO, kind: Compression) -> io.RawIOBase:
    """A writable that compresses into `out`; closing it finishes the stream (not `out`)."""
    if kind == GZIP:
        from .gzipstream import GzipWriter

        return GzipWriter(out)
    if kind == ZSTD:
        return ZstdWriter(out)
    if kind == NONE:
        return _Plain(out)
    raise LayerError(f"unknown compression {kind!r} (gzip, zstd or none)")
