"""`imgtool import`: a single-layer base image from a root filesystem tarball.

This is how users get a base image without any registry (`docker import`). The tarball is hostile
input: names are validated by the layer reader, and nothing is extracted to disk. Members are
spooled into one temporary file so the layer can be written in sorted, deterministic order; hence the
same rootfs always gives the same layer, whatever order or mtimes the tarball had (with
SOURCE_DATE_EPOCH set).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from typing import BinaryIO, Callable

from imgtool.layer import writer
from imgtool.layer.compression import Compression
from imgtool.layer.entries import Entry
from imgtool.layer.reader import LayerReader
from imgtool.layer.tarheader import Header
from imgtool.oci.config import ContainerConfig, History, ImageConfig
from imgtool.oci.descriptor import Descriptor

from . import mutate
from .image import host_platform
from .store import Store

_XATTR = "SCHILY.xattr."


class _Region(io.RawIOBase):
    """A read-only window [offset, offset+size) of the spool file."""

    def __init__(self, path: str, offset: int, size: int):
        self._f = open(path, "rb")
        self._f.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left)
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _opener(path: str, offset: int, size: int) -> Callable[[], BinaryIO]:
    return lambda: _Region(path, offset, size)  # type: ignore[return-value]


def spool_entries(stream: BinaryIO, spool: BinaryIO, what: str) -> list[Entry]:
    """Read a tarball into entries whose contents live in `spool` (one file, appended)."""
    reader = LayerReader(stream, what)
    entries: list[Entry] = []
    for member in reader:
        if member.name == ".":
            continue
        xattrs = {k[len(_XATTR):]: v.encode("utf-8", "surrogateescape")
                  for k, v in member.pax_headers.items() if k.startswith(_XATTR)}
        type_ = tarfile.REGTYPE if member.isreg() else member.type
        info = Header(member.name, type=type_, mode=member.mode, uid=member.uid, gid=member.gid,
                      mtime=int(member.mtime), linkname=member.linkname, devmajor=member.devmajor,
                      devminor=member.devminor, xattrs=xattrs)
        entry = Entry(info)
        if member.isreg():
            offset = spool.tell()
            shutil.copyfileobj(reader.extractfile(member), spool, 1 << 20)
            info.size = member.size
            entry.open = _opener(spool.name, offset, member.size)
        elif member.islnk():
            entry.link_key = member.linkname
        entries.append(entry)
    by_name = {e.info.name: e for e in entries}
    for entry in entries:
        if entry.link_key is not None and entry.link_key in by_name:
            by_name[entry.link_key].link_key = entry.link_key
    spool.flush()
    return entries


def import_rootfs(store: Store, stream: BinaryIO, names: list[str], what: str,
                  config: ContainerConfig | None = None, kind: Compression = Compression.GZIP) -> Descriptor:
    """Make and name a one-layer image from a rootfs tarball (plain, gzip or zstd)."""
    epoch = writer.source_date_epoch()
    platform = host_platform()
    with store.writing(), tempfile.NamedTemporaryFile(dir=store.tmp_dir, prefix="import-") as spool:
        entries = spool_entries(stream, spool, what)  # type: ignore[arg-type]
        layer = mutate.add_layer(store, entries, kind, epoch)
        created = mutate.timestamp(epoch)
        image = mutate.PendingImage(ImageConfig(
            architecture=platform.architecture, os=platform.os, created=created,
            config=config or ContainerConfig(),
        )).append(
            layer,
            # no file name in the history: the same rootfs must give the same image wherever it came from
            History(created=created, created_by="imgtool import", comment="imported from a rootfs tarball"),
        )
        return image.write(store, names)
