"""Archives as streaming image destinations: an OCI archive (a tar of an OCI image layout) and a
docker-archive (`docker save`'s `manifest.json` + `<config>.json` + uncompressed `layer.tar`s).

One writer takes any number of images (one copy per image through `for_image(names)`), then
`finish()` writes the index and closes the tar. An OCI archive streams each verified blob straight
into the tar (its size is known from the descriptor). A docker-archive needs each layer's DiffID and
uncompressed size before its tar header, so blobs are remembered as openers and written when the
image's manifest arrives: every layer is decompressed through the verified layer stream (digest,
size, DiffID) into scratch space, then added.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import threading
from typing import BinaryIO

from imgtool.errors import ImgtoolError
from imgtool.layer.layer import Layer
from imgtool.layer.verify import check_blob
from imgtool.oci import canonical, mediatype, reference
from imgtool.oci.config import parse_config
from imgtool.oci.descriptor import Descriptor
from imgtool.oci.digest import of_bytes
from imgtool.oci.manifest import Index, parse_manifest
from imgtool.store.store import name_annotations

from .endpoint import OnBytes, Opener

OCI = "oci"
DOCKER = "docker"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _add_stream(tar: tarfile.TarFile, name: str, size: int, stream: BinaryIO) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    tar.addfile(info, stream)
    if stream.read(1):  # read to the end: a verified stream checks the blob there
        raise ImgtoolError(f"{name}: the blob is longer than its descriptor")


class ImageInArchive:
    """One image's view of a writer: the same blobs, its own names."""

    def __init__(self, writer: "ArchiveWriter", names: list[str]):
        self.writer = writer
        self.names = names
        self.what = writer.what
        self.verifies = writer.verifies
        self.memo = None

    def has_blob(self, descriptor: Descriptor) -> bool:
        return self.writer.has_blob(descriptor)

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        return self.writer.put_blob(descriptor, opener, on_bytes)

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        self.writer.put_manifest(data, media_type, descriptor)

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        self.writer.add_root(data, media_type, descriptor, self.names)

    def close(self) -> None:
        pass


class ArchiveWriter:
    """Common to both formats: a tar stream written under a lock (copies run blobs in parallel)."""

    verifies = False

    def __init__(self, out: BinaryIO, what: str):
        self.what = what
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.lock = threading.Lock()
        self.written: set[str] = set()

    def for_image(self, names: list[str]) -> ImageInArchive:
        """A destination for one image of the archive, named `names` (docker's names)."""
        return ImageInArchive(self, names)

    def has_blob(self, descriptor: Descriptor) -> bool:
        with self.lock:
            return str(descriptor.digest) in self.written

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        raise NotImplementedError

    def add_root(self, data: bytes, media_type: str, descriptor: Descriptor, names: list[str]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Write the index and close the tar stream."""
        raise NotImplementedError

    def abort(self) -> None:
        """Give up: the output is discarded by the caller; write nothing more to it (not even at exit)."""
        self.tar.closed = True
        self.tar.fileobj.closed = True  # the stream's buffer would be flushed by its finaliser


class OciArchiveWriter(ArchiveWriter):
    """An OCI archive: `oci-layout`, `blobs/<alg>/<hex>`, and `index.json` naming every image."""

    def __init__(self, out: BinaryIO, what: str):
        super().__init__(out, what)
        self.entries: list[Descriptor] = []
        _add_bytes(self.tar, "oci-layout", canonical.dumps({"imageLayoutVersion": mediatype.OCI_LAYOUT_VERSION}))
        _add_dir(self.tar, "blobs")
        self.dirs: set[str] = set()

    def _member(self, descriptor: Descriptor) -> str:
        alg = descriptor.digest.algorithm
        if alg not in self.dirs:
            _add_dir(self.tar, f"blobs/{alg}")
            self.dirs.add(alg)
        return f"blobs/{alg}/{descriptor.digest.encoded}"

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        with self.lock, opener() as stream:
            if str(descriptor.digest) not in self.written:
                _add_stream(self.tar, self._member(descriptor), descriptor.size, stream)
                self.written.add(str(descriptor.digest))
        on_bytes(descriptor.size)
        return "copied"

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        with self.lock:
            if str(descriptor.digest) not in self.written:
                _add_bytes(self.tar, self._member(descriptor), data)
                self.written.add(str(descriptor.digest))

    def add_root(self, data: bytes, media_type: str, descriptor: Descriptor, names: list[str]) -> None:
        self.put_manifest(data, media_type, descriptor)
        root = Descriptor(media_type, descriptor.digest, descriptor.size, platform=descriptor.platform)
        refs = [reference.parse(n) for n in names]
        self.entries.extend(Descriptor(root.media_type, root.digest, root.size, name_annotations(r)) for r in refs)
        if not refs:
            self.entries.append(root)

    def finish(self) -> None:
        _add_bytes(self.tar, "index.json", Index(tuple(self.entries)).to_bytes())
        self.tar.close()


class DockerArchiveWriter(ArchiveWriter):
    """A docker-archive (`docker load`, skopeo's docker-archive:): single-platform images only.
    Verifies itself: the config by its digest, each layer through the verified layer stream."""

    verifies = True

    def __init__(self, out: BinaryIO, what: str, scratch: str | None = None):
        super().__init__(out, what)
        self.openers: dict[str, Opener] = {}
        self.manifest_json: list[dict] = []
        self.scratch = scratch

    def has_blob(self, descriptor: Descriptor) -> bool:
        with self.lock:
            return str(descriptor.digest) in self.openers

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        with self.lock:
            self.openers[str(descriptor.digest)] = opener
        return "copied"

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        raise ImgtoolError(f"{self.what}: a docker archive holds one platform per image; "
                           "copy one platform (--platform), not an index")

    def add_root(self, data: bytes, media_type: str, descriptor: Descriptor, names: list[str]) -> None:
        if not mediatype.is_manifest(media_type):
            self.put_manifest(data, media_type, descriptor)
        manifest = parse_manifest(data, f"manifest {descriptor.digest}")
        with self.openers[str(manifest.config.digest)]() as f:
            config_bytes = f.read(manifest.config.size + 1)
        check_blob(manifest.config, len(config_bytes), of_bytes(config_bytes, manifest.config.digest.algorithm))
        config = parse_config(config_bytes, f"config {manifest.config.digest}")
        if len(config.diff_ids) != len(manifest.layers):
            raise ImgtoolError(f"manifest {descriptor.digest}: {len(manifest.layers)} layers for "
                               f"{len(config.diff_ids)} diff_ids")
        config_name = f"{manifest.config.digest.encoded}.json"
        if config_name not in self.written:
            _add_bytes(self.tar, config_name, config_bytes)
            self.written.add(config_name)
        layer_names = []
        for d, diff_id in zip(manifest.layers, config.diff_ids):
            name = f"{diff_id.encoded}/layer.tar"
            layer_names.append(name)
            if name not in self.written:
                self._add_layer(Layer(d, diff_id, self.openers[str(d.digest)]), name)
                self.written.add(name)
        tags = [reference.parse(n) for n in names]
        repo_tags = [reference.Reference(t.registry, t.repository, t.tag).familiar_tagged for t in tags if t.tag]
        self.manifest_json.append({"Config": config_name, "RepoTags": repo_tags, "Layers": layer_names})

    def _add_layer(self, layer: Layer, name: str) -> None:
        # a tar header needs the size up front: decompress (verified) into scratch space first
        with tempfile.TemporaryFile(prefix="imgtool-layer-", dir=self.scratch) as spool:
            with layer.open_uncompressed() as tar_stream:
                shutil.copyfileobj(tar_stream, spool, 1 << 20)
            size = spool.tell()
            spool.seek(0)
            info = tarfile.TarInfo(name)
            info.size, info.mode = size, 0o644
            self.tar.addfile(info, spool)

    def finish(self) -> None:
        _add_bytes(self.tar, "manifest.json", json.dumps(self.manifest_json).encode())
        self.tar.close()


def writer(fmt: str, out: BinaryIO, what: str, scratch: str | None = None) -> ArchiveWriter:
    """The archive writer for `oci` or `docker`."""
    if fmt == OCI:
        return OciArchiveWriter(out, what)
    if fmt == DOCKER:
        return DockerArchiveWriter(out, what, scratch)
    raise ImgtoolError(f"--format {fmt!r}: expected oci or docker")
