"""Build tar layers from header lists (moby's testBreakout style) and inspect unpacked trees."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from imgtool.layer.compression import detect
from imgtool.layer.layer import Layer
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import Digest


@dataclass
class E:
    """One tar entry: name, type and the fields that matter for that type."""

    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = 1_600_000_000
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] = field(default_factory=dict)


def reg(name: str, data: bytes = b"x", mode: int = 0o644, **kw) -> E:
    return E(name, tarfile.REGTYPE, data=data, mode=mode, **kw)


def d(name: str, mode: int = 0o755, **kw) -> E:
    return E(name, tarfile.DIRTYPE, mode=mode, **kw)


def sym(name: str, target: str) -> E:
    return E(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def link(name: str, target: str) -> E:
    return E(name, tarfile.LNKTYPE, linkname=target)


def wh(name: str) -> E:
    return reg(name, b"")


def tar_bytes(entries: list[E], fmt: int = tarfile.PAX_FORMAT, trailer: bytes = b"") -> bytes:
    """An uncompressed tar of `entries`, in order, with optional bytes after end-of-archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.type
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.mtime = e.mtime
            info.linkname = e.linkname
            info.devmajor, info.devminor = e.devmajor, e.devminor
            info.pax_headers = dict(e.pax)
            if e.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue() + trailer


def gz(data: bytes) -> bytes:
    return gzip.compress(data, 1)


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def tree(root: Path) -> dict[str, tuple]:
    """path -> (kind, mode, uid, gid, payload) for every entry under root (root itself as '.')."""
    out: dict[str, tuple] = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames] if dirpath == str(root) else [*dirnames, *filenames]:
            path = os.path.join(dirpath, name) if name != "." else dirpath
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", mode, st.st_uid, st.st_gid, os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("f", mode, st.st_uid, st.st_gid, Path(path).read_bytes())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", mode, st.st_uid, st.st_gid, None)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                out[rel] = (kind, mode, st.st_uid, st.st_gid, (os.major(st.st_rdev), os.minor(st.st_rdev)))
            else:
                out[rel] = ("p", mode, st.st_uid, st.st_gid, None)
    return out


def layer_of(blob: bytes, diff_id: Digest | None = None, **descriptor) -> Layer:
    """A Layer over in-memory bytes: the descriptor is what the bytes are unless overridden
    (media_type, digest, size), and the DiffID is the given one or sha256 of an uncompressed blob."""
    fields = {"media_type": detect(blob[:4]).media_type(), "digest": sha(blob), "size": len(blob), **descriptor}
    return Layer(Descriptor(**fields), diff_id or sha(blob), lambda: io.BytesIO(blob))


def content(view: dict[str, tuple], path: str):
    """The payload `tree` recorded for `path` (file bytes, link target, device numbers)."""
    return view[path][4]


def gnu_tar(info: tarfile.TarInfo) -> bytes:
    """A GNU-format tar of one raw header (for headers `tar_bytes` cannot express: sparse, huge devices)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info)
    return buf.getvalue()
