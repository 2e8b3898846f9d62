"""The deterministic layer writer: entries -> tar -> compression, with diff_id and digest in one pass.

Deterministic means the same files always give the same bytes: entries sorted by name, PAX format,
numeric uid/gid only (no user or group names), no atime/ctime, mtimes clamped to SOURCE_DATE_EPOCH
when it is set, hardlinks collapsed onto the first path in order, and a fixed gzip header. That is
what makes an unchanged build step produce an identical layer, which the cache and registries dedupe.
"""

from __future__ import annotations

import io
import os
import tarfile
from typing import BinaryIO, Callable, Iterable

from imgtool.errors import LayerError
from imgtool.oci.descriptor import Descriptor

from . import compression, tarheader
from .layer import Layer
from .tee import TeeWriter
from .entries import Entry, clean_name

_COPY_BUFSIZE = 1 << 20


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH from the environment (reproducible-builds.org), validated."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value in (None, ""):
        return None
    try:
        epoch = int(value)
    except ValueError:
        raise LayerError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds") from None
    if epoch < 0:
        raise LayerError(f"SOURCE_DATE_EPOCH={value!r} is negative")
    return epoch


def normalise(entries: Iterable[Entry], epoch: int | None = None) -> list[Entry]:
    """Sort, clean and canonicalise entries; the pure heart of determinism.

    Later entries with the same name replace earlier ones (tar semantics); the layer root itself
    is dropped; hardlink groups get their content on the first name in order.
    """
    by_name: dict[str, Entry] = {}
    for entry in entries:
        name = clean_name(entry.info.name)
        if name:
            entry.info.name = name
            by_name[name] = entry
    ordered = [by_name[name] for name in sorted(by_name)]
    first_of_group: dict[object, Entry] = {}
    content_of_group: dict[object, Entry] = {}
    for entry in ordered:
        if entry.link_key is not None and entry.has_content:
            content_of_group.setdefault(entry.link_key, entry)
    for entry in ordered:
        info = entry.info
        if epoch is not None and info.mtime > epoch:
            info.mtime = epoch
        key = entry.link_key
        if key is None:
            continue
        leader = first_of_group.get(key)
        if leader is None:
            source = content_of_group.get(key)
            if source is None:
                raise LayerError(f"hardlink {info.name!r} points to a file that is not in the layer")
            first_of_group[key] = entry
            info.type, info.linkname, info.size = tarfile.REGTYPE, "", source.info.size
            entry.take_content(source)
        else:
            info.type, info.linkname, info.size = tarfile.LNKTYPE, leader.info.name, 0
            entry.drop_content()
    return ordered


def write_layer(
    entries: Iterable[Entry],
    out: BinaryIO,
    kind: compression.Compression = compression.GZIP,
    epoch: int | None = None,
) -> Layer:
    """Write a layer blob to `out` and return it (descriptor and DiffID, computed as it streams).

    The Layer has no opener: only the caller knows where `out` keeps the bytes.
    """
    kind = compression.Compression(kind)
    ordered = normalise(entries, epoch)
    blob = TeeWriter(out)
    packer = compression.compressor(blob, kind)  # type: ignore[arg-type]
    tar_sink = TeeWriter(packer)
    # small header and file writes coalesce here, so the hash and the compressor see big chunks
    tar = io.BufferedWriter(tar_sink, _COPY_BUFSIZE)  # type: ignore[arg-type]
    for entry in ordered:
        tar.write(tarheader.encode(entry.info))
        if not entry.has_content:
            continue
        copied = _copy(entry, tar)
        if copied != entry.info.size:
            raise LayerError(f"{entry.info.name}: changed size while being written ({entry.info.size} -> {copied})")
        tar.write(tarheader.padding(copied))
    tar.write(tarheader.END_OF_ARCHIVE)
    tar.flush()
    packer.close()
    return Layer(Descriptor(kind.media_type(), blob.digest, blob.count), tar_sink.digest)


def _copy(entry: Entry, sink: io.BufferedWriter) -> int:
    """Copy up to the announced size of an entry's data; a file on disk is read with bare syscalls
    (no file object per member: that alone was ~15% of writing a 20,000-file layer)."""
    if entry.path is not None:
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return _pump(lambda n: os.read(fd, n), sink, entry.info.size)
        finally:
            os.close(fd)
    assert entry.open is not None
    with entry.open() as source:
        return _pump(source.read, sink, entry.info.size)


def _pump(read: Callable[[int], bytes], sink: io.BufferedWriter, size: int) -> int:
    copied = 0
    while copied < size and (chunk := read(min(_COPY_BUFSIZE, size - copied))):
        sink.write(chunk)
        copied += len(chunk)
    return copied
