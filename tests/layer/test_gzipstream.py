"""The parallel segmented gzip writer: valid for every reader, and a function of its input only."""

from __future__ import annotations

import gzip
import io
import os
import random
import subprocess
import zlib

import pytest

from imgtool.layer import gzipstream


def gz(data: bytes, piece: int) -> bytes:
    out = io.BytesIO()
    w = gzipstream.GzipWriter(out)
    for i in range(0, len(data), piece):
        w.write(data[i:i + piece])
    w.close()
    return out.getvalue()


def mixed(n_segments: float) -> bytes:
    rng = random.Random(7)
    text = b"".join(b"line %d of some source file\n" % rng.randint(0, 999) for _ in range(60000))
    data = text + os.urandom(int(gzipstream.SEGMENT * n_segments)) + text
    return data


@pytest.mark.parametrize("size", [0, 1, gzipstream.SEGMENT - 1, gzipstream.SEGMENT, 3 * gzipstream.SEGMENT + 17])
def test_every_reader_gets_the_input_back(tmp_path, size):
    data = (mixed(4) * 2)[:size]
    blob = gz(data, 65536)
    assert gzip.decompress(blob) == data
    assert zlib.decompress(blob, 31) == data
    (tmp_path / "x.gz").write_bytes(blob)
    assert subprocess.run(["gzip", "-t", str(tmp_path / "x.gz")]).returncode == 0


def test_output_depends_on_bytes_not_on_write_sizes():
    data = mixed(2.5)
    assert gz(data, 512) == gz(data, 1 << 20) == gz(data, 3_000_001)


def test_incompressible_segments_are_stored_not_inflated():
    data = os.urandom(4 * gzipstream.SEGMENT)
    blob = gz(data, 1 << 20)
    overhead = len(blob) - len(data)
    assert 0 < overhead < 100 + 5 * (len(data) // 0xFFFF + 4)


def test_smaller_than_gzip_6_on_text():
    rng = random.Random(1)
    words = [os.urandom(3).hex().encode() for _ in range(3000)]
    data = b"\n".join(b" ".join(rng.choice(words) for _ in range(10)) for _ in range(300000))
    ours = len(gz(data, 1 << 20))
    theirs = len(subprocess.run(["gzip", "-6"], input=data, capture_output=True, check=True).stdout)
    assert ours <= theirs
