"""Tar members of a verified layer stream, read forward once: tarfile parses the headers, file
content comes out as views of the inflater's chunks.

Why not `tarfile.open(mode="r|")`: its stream wrapper joins and re-slices its whole buffer on every
read, so with a large buffer each 512-byte header costs megabytes of copying (and fresh pages from
the kernel); that was most of the time of applying a 20,000-file layer (docs/benchmarks.md). A
`TarFile` opened in plain "r" mode over a file object that can only move forward (a seek is a skip)
runs the very same header code, and regular-file content is never copied in Python at all.

Header limits live here because this is where tarfile would read them: PAX and GNU long-name records
are read into memory whole, so huge ones are refused first (Go's archive/tar uses the same 1 MiB
cap), and sparse members are refused in every form (layer.md: sparse files SHOULD NOT be used, and
none of the appliers this project follows writes them back as sparse).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator

from imgtool.errors import LayerError

from .verify import VerifiedLayer

MAX_HEADER = 1 << 20
_SPECIAL_HEADERS = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                    tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a PAX or long-name record into memory whole: refuse huge ones before it does."""

    def _proc_member(self, tarfile_):  # type: ignore[override]
        if self.type in _SPECIAL_HEADERS and self.size > MAX_HEADER:
            raise LayerError(f"tar header record of {self.size} bytes exceeds {MAX_HEADER}")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise LayerError(f"sparse tar entry {self.name!r} is not supported in layers")
        return super()._proc_member(tarfile_)

    def _reject_sparse(self, *_args):
        raise LayerError(f"sparse tar entry {self.name!r} is not supported in layers")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _reject_sparse


class _Forward:
    """The file object tarfile reads headers from: `read`, `tell`, and `seek` forward only."""

    def __init__(self, stream: VerifiedLayer):
        self.stream = stream
        self.position = 0

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            raise ValueError("a layer stream is read in bounded pieces")
        parts = []
        while size:
            view = self.stream.readview(size)
            if not view:
                break
            parts.append(view)
            size -= len(view)
            self.position += len(view)
        return b"".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < self.position:
            raise tarfile.ReadError("a layer stream cannot seek backwards")
        for _ in self.views(offset - self.position):
            pass
        return self.position

    def views(self, size: int) -> Iterator[memoryview]:
        """Exactly `size` bytes as consecutive views; a short stream is a truncated tar."""
        while size:
            view = self.stream.readview(size)
            if not view:
                raise tarfile.ReadError("unexpected end of data")
            size -= len(view)
            self.position += len(view)
            yield view


class TarStream:
    """Iterate the members of a layer's tar once, in order; `content(member)` while at a member.

    tarfile's errors (tarfile.TarError, EOFError) and LayerError for refused headers propagate:
    the caller turns them into its one-line error with the context it knows.
    """

    def __init__(self, stream: VerifiedLayer):
        self._forward = _Forward(stream)
        self._tar = tarfile.TarFile(fileobj=self._forward, mode="r", tarinfo=_BoundedTarInfo,  # type: ignore[arg-type]
                                    encoding="utf-8", errors="surrogateescape")

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        while (member := self._tar.next()) is not None:
            self._tar.members.clear()  # kept for random access, which a stream never does
            if member.sparse is not None or "GNU.sparse.name" in member.pax_headers:
                raise LayerError(f"sparse tar entry {member.name!r} is not supported in layers")
            yield member

    def content(self, member: tarfile.TarInfo) -> Iterator[memoryview]:
        """The member's data as views that stay valid after the next read (nothing is copied)."""
        if self._forward.position != member.offset_data:
            raise tarfile.ReadError(f"{member.name!r}: content is no longer at the read position")
        return self._forward.views(member.size)
