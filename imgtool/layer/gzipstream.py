"""Deterministic, parallel gzip for layers: one gzip member built from independent 1 MiB segments.

The tar stream is cut into fixed 1 MiB segments. Each is deflated on its own (worker threads; the
codecs release the GIL) and ends with a sync flush, so the segments concatenate into one valid
deflate stream, as pigz does. A segment that does not compress (already-compressed files, random
data) is stored verbatim, which is cheaper to write and smaller than deflating it.

Backends, from the measurements in docs/benchmarks.md: zlib-ng level 5 deflates source-like data
smaller than `gzip -6` at roughly twice zlib's speed; ISA-L level 1 is a ~500 MB/s probe that spots
incompressible segments before zlib-ng spends time on them. Output depends only on the input bytes
(fixed segment size, fixed levels, fixed header: mtime 0, OS 255), never on thread timing.
"""

from __future__ import annotations

import collections
import io
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from isal import isal_zlib
from zlib_ng import zlib_ng

SEGMENT = 1 << 20
LEVEL = 5
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
_STORED_MAX = 0xFFFF
_INFLIGHT = 8  # segments queued at once: bounds memory to ~8 MiB, hides the workers' GIL waits


def _stored(data: bytes) -> bytes:
    out = []
    for i in range(0, len(data), _STORED_MAX):
        piece = data[i:i + _STORED_MAX]
        out.append(b"\x00" + struct.pack("<HH", len(piece), len(piece) ^ 0xFFFF) + piece)
    return b"".join(out)


def deflate_segment(data: bytes, level: int = LEVEL) -> tuple[bytes, int]:
    """Deflate blocks for one segment (byte-aligned, not final) and the segment's CRC-32."""
    crc = isal_zlib.crc32(data)
    probe = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
    if len(probe.compress(data)) + len(probe.flush(isal_zlib.Z_SYNC_FLUSH)) >= len(data) * 0.98:
        return _stored(data), crc
    packer = zlib_ng.compressobj(level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS)
    packed = packer.compress(data) + packer.flush(zlib_ng.Z_SYNC_FLUSH)
    stored = len(data) + 5 * (len(data) // _STORED_MAX + 1)
    return (packed if len(packed) < stored else _stored(data)), crc


class GzipWriter(io.RawIOBase):
    """A writable that gzips into `out`; `close()` finishes the member (and leaves `out` open)."""

    def __init__(self, out: BinaryIO, level: int = LEVEL):
        self.out = out
        self.level = level
        self._buffer = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gzip")
        self._inflight: collections.deque[tuple[Future, int]] = collections.deque()
        self._crc = 0
        self._size = 0
        out.write(_HEADER)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) >= SEGMENT:
            self._submit(bytes(self._buffer[:SEGMENT]))
            del self._buffer[:SEGMENT]
        return len(data)

    def _submit(self, segment: bytes) -> None:
        if len(self._inflight) >= _INFLIGHT:
            self._emit_oldest()
        self._inflight.append((self._pool.submit(deflate_segment, segment, self.level), len(segment)))

    def _emit_oldest(self) -> None:
        future, length = self._inflight.popleft()
        blocks, crc = future.result()
        self.out.write(blocks)
        self._crc = isal_zlib.crc32_combine(self._crc, crc, length) if self._size else crc
        self._size += length

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._buffer:
                self._submit(bytes(self._buffer))
                self._buffer.clear()
            while self._inflight:
                self._emit_oldest()
            self.out.write(_FINAL_BLOCK + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            super().close()
