"""Stream every layer of an image once: member metadata for the replay, file content for the scanner.

Nothing is extracted to disk. Layers are read through `imgtool.layer.Layer`, whose stream checks
media type, digest, size and DiffID at its end, so a report never describes bytes other than the
ones the image names.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import Callable, Iterator

from imgtool.errors import LayerError
from imgtool.layer import whiteout
from imgtool.layer.layer import Layer
from imgtool.layer.reader import LayerReader

from .source import ImageSource

FILE, DIR, SYMLINK, HARDLINK, OTHER = "file", "dir", "symlink", "hardlink", "other"

# on_file(layer_index, path, size, read) -> None; `read(limit)` returns up to `limit` content bytes
FileHook = Callable[[int, str, int, Callable[[int], bytes]], None]


@dataclass(frozen=True)
class Member:
    """One tar member as the replay sees it: a path change, a whiteout or an opaque marker."""

    path: str          # relative to the root, no leading '/'
    kind: str          # FILE, DIR, SYMLINK, HARDLINK, OTHER; "whiteout" / "opaque" for markers
    size: int          # tar header size (content bytes; 0 for everything but regular files)
    linkname: str = ""


@dataclass(frozen=True)
class LayerMembers:
    """A layer's members in tar order plus its sizes."""

    index: int
    members: tuple[Member, ...]
    compressed_size: int
    tar_size: int


def _kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return FILE
    if info.isdir():
        return DIR
    if info.issym():
        return SYMLINK
    if info.islnk():
        return HARDLINK
    return OTHER


def _member(info: tarfile.TarInfo) -> Member:
    name = info.name
    if whiteout.is_opaque(name):
        return Member(name.rpartition("/")[0] if "/" in name else "", "opaque", 0)
    if whiteout.is_whiteout(name):
        return Member(whiteout.target_of(name), "whiteout", 0)
    return Member(name, _kind(info), info.size if info.isreg() else 0, info.linkname)


def walk(source: ImageSource, on_file: FileHook | None = None) -> Iterator[LayerMembers]:
    """Every layer's members, base first; regular files' content goes to `on_file` as it streams by."""
    diff_ids = source.config.diff_ids
    if len(diff_ids) != len(source.layers):
        raise LayerError(f"{source.name}: config has {len(diff_ids)} diff_ids for {len(source.layers)} layers")
    for index, descriptor in enumerate(source.layers):
        what = f"layer {index} ({descriptor.digest})"
        layer = Layer(descriptor, diff_ids[index], lambda d=descriptor: source.open_blob(d))  # type: ignore[misc]
        with layer.open_uncompressed() as tar:
            reader = LayerReader(tar, what)  # type: ignore[arg-type]
            members = []
            for info in reader:
                member = _member(info)
                members.append(member)
                if on_file is not None and member.kind == FILE:
                    content = reader.extractfile(info)
                    on_file(index, member.path, member.size, content.read)
        yield LayerMembers(index, tuple(members), descriptor.size, reader.tar_size)
