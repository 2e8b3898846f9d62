import hashlib
import io

import pytest

from imgtool.errors import DigestMismatchError, InvalidDigestError
from imgtool.oci.digest import Digest, of_bytes, of_stream


def test_sha256_and_sha512_parse_and_verify():
    for alg in ("sha256", "sha512"):
        data = b"hello"
        d = Digest.parse(f"{alg}:{hashlib.new(alg, data).hexdigest()}")
        d.verify(data)
        with pytest.raises(DigestMismatchError):
            d.verify(b"other")


@pytest.mark.parametrize("text", [
    "sha256:" + "A" * 64,              # upper-case hex
    "sha256:" + "a" * 63,              # short
    "sha512:" + "a" * 64,              # sha512 needs 128
    "sha256",                          # no encoded part
    ":abc",                            # no algorithm
    "SHA256:" + "a" * 64,              # algorithm is lower-case
    "sha256:../../etc/passwd",         # path characters
    "sha256:" + "a" * 63 + "\n",       # a final newline ($ matched before it)
    "sha256:" + "a" * 64 + "\n",
    "foo:bar\n",
])
def test_invalid_digests_rejected(text):
    with pytest.raises(InvalidDigestError):
        Digest.parse(text)


def test_unregistered_algorithm_parses_but_cannot_hash():
    d = Digest.parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
    assert not d.registered
    with pytest.raises(InvalidDigestError):
        d.hasher()


def test_stream_digest_matches_bytes():
    data = bytes(range(256)) * 10000
    assert of_stream(io.BytesIO(data)) == (of_bytes(data), len(data))
    assert str(of_bytes(b"")) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
