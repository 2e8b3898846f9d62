"""Content digests (`<algorithm>:<encoded>`), per image-spec descriptor.md.

A digest is the only identity content has in OCI, so parsing is strict: the grammar of the spec, and
for the registered algorithms (sha256, sha512) the exact hex length. Unknown algorithms parse (the spec
says they SHOULD pass validation) but cannot be computed or verified.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import BinaryIO

from imgtool.errors import DigestMismatchError, InvalidDigestError
from imgtool.frozen import frozen

# `\Z`, not `$`: `$` also matches before a final newline, so "sha256:<63 hex>\n" was a valid sha256
# digest, which a registry then wrote into a folder name and an OCI-Subject header (a 500)
_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
_REGISTERED = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[a-f0-9]+\Z")

CANONICAL = "sha256"


@functools.total_ordering
@frozen
class Digest:
    """A parsed digest; `str(d)` is its canonical text; digests sort by (algorithm, encoded).

    (`frozen` and total_ordering rather than `dataclass(order=True)`: one method compiled at import
    instead of ten, on the start-up of every command.)"""

    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    def __lt__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.algorithm, self.encoded) < (other.algorithm, other.encoded)  # type: ignore[attr-defined]

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Parse and validate; registered algorithms must carry lower-case hex of the right length."""
        if not isinstance(text, str) or not _GRAMMAR.match(text):
            raise InvalidDigestError(f"invalid digest {text!r}: not of the form algorithm:encoded")
        algorithm, encoded = text.split(":", 1)
        want = _REGISTERED.get(algorithm)
        if want is not None and (len(encoded) != want or not _HEX.match(encoded)):
            raise InvalidDigestError(
                f"invalid digest {text!r}: {algorithm} needs {want} lower-case hex characters"
            )
        return cls(algorithm, encoded)

    @property
    def registered(self) -> bool:
        """True when imgtool can compute this algorithm (and so verify content against it)."""
        return self.algorithm in _REGISTERED

    def hasher(self) -> "hashlib._Hash":
        """A fresh hash object of this digest's algorithm."""
        return new_hasher(self.algorithm)

    def verify(self, data: bytes) -> None:
        """Raise DigestMismatchError unless `data` hashes to this digest."""
        actual = of_bytes(data, self.algorithm)
        if actual != self:
            raise DigestMismatchError(f"content digest {actual} does not match expected {self}")


def new_hasher(algorithm: str = CANONICAL) -> "hashlib._Hash":
    """A hash object for a registered algorithm; anything else is a user-visible error."""
    if algorithm not in _REGISTERED:
        raise InvalidDigestError(f"unsupported digest algorithm {algorithm!r} (sha256, sha512)")
    return hashlib.new(algorithm)


def of_bytes(data: bytes, algorithm: str = CANONICAL) -> Digest:
    """The digest of a byte string."""
    h = new_hasher(algorithm)
    h.update(data)
    return Digest(algorithm, h.hexdigest())


def of_stream(stream: BinaryIO, algorithm: str = CANONICAL, bufsize: int = 1 << 20) -> tuple[Digest, int]:
    """Digest and size of a stream read to its end, without holding it in memory."""
    h = new_hasher(algorithm)
    size = 0
    while chunk := stream.read(bufsize):
        h.update(chunk)
        size += len(chunk)
    return Digest(algorithm, h.hexdigest()), size
