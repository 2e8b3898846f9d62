"""Archives and the Docker engine as image sources and destinations.

An OCI archive, a docker-archive and a Docker engine (`docker save` / `docker load` through
docker-py) all carry images as tarballs. Reading one goes through the store's archive loader into a
scratch layout (every digest, schema and layer tar checked against its diff_ids), which the copy
routine then reads like any layout: `imgtool load` is that copy into the store. Writing one streams
it through `tarball.py` into a temp file beside its final name, renamed into place only when
complete, so nothing half-written is ever visible.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from imgtool.atomicfile import replacing
from imgtool.errors import ImgtoolError, NotFoundError, RegistryError
from imgtool.oci.descriptor import Descriptor
from imgtool.store import Store

from . import tarball
from .layouts import LayoutSource

OCI_ARCHIVE = "oci-archive"
DOCKER_ARCHIVE = "docker-archive"


def _scratch(tmp_dir: Path | None = None) -> Store:
    return Store.open(Path(tempfile.mkdtemp(prefix="imgtool-archive-", dir=tmp_dir)) / "layout")


def _remove(store: Store) -> None:
    shutil.rmtree(store.path.parent, ignore_errors=True)


class ArchiveImages:
    """Every image of an OCI archive or docker-archive, read into a scratch layout by the store's
    two-phase loader: every digest, schema, media type, name and layer tar (against the config's
    diff_ids) is checked there, so a hostile archive fails before the copy routine touches the
    destination. `tmp_dir`: where the scratch goes (`load` keeps it on the store's filesystem)."""

    def __init__(self, stream: BinaryIO, what: str, tmp_dir: Path | None = None):
        from imgtool.store import archive

        self.scratch = _scratch(tmp_dir)
        try:
            self.names = archive.load(self.scratch, stream, what)  # as `docker load` prints them
        except BaseException:
            _remove(self.scratch)
            raise

    def images(self) -> list[tuple[Descriptor, list[str]]]:
        """Each image (its index entry in the scratch layout) with all its names, in archive order."""
        grouped: dict[str, tuple[Descriptor, list[str]]] = {}
        for entry in self.scratch.images():
            _, names = grouped.setdefault(str(entry.descriptor.digest), (entry.descriptor, []))
            if entry.normalized:
                names.append(entry.normalized)
        return list(grouped.values())

    def close(self) -> None:
        _remove(self.scratch)


class ArchiveSource(LayoutSource):
    """One image of an OCI archive or docker-archive file (or a stream of one)."""

    def __init__(self, stream: BinaryIO, name: str | None, what: str):
        self.archive = ArchiveImages(stream, what)
        names = self.archive.names
        try:
            if name is None and len(names) > 1:
                raise NotFoundError(f"{what}: holds {len(names)} images ({', '.join(names)}); name one")
            super().__init__(self.archive.scratch, name or names[0] if names else None, what)
        except BaseException:
            self.archive.close()
            raise

    def close(self) -> None:
        self.archive.close()


def open_archive_source(kind: str, path: str, name: str | None) -> ArchiveSource:
    """`oci-archive:FILE[:NAME]` / `docker-archive:FILE[:NAME]` as a source."""
    try:
        with open(path, "rb") as f:
            return ArchiveSource(f, name, f"{kind}:{path}")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImgtoolError(f"{path}: is a directory, expected a tar file") from None


class ArchiveDestination(tarball.ImageInArchive):
    """An archive file, streamed into a temp file beside it (`atomicfile.replacing`) that becomes
    the file only when `commit` completes; any failure removes it."""

    def __init__(self, kind: str, path: str, name: str | None, what: str):
        self.path = Path(path)
        if self.path.is_dir():
            raise ImgtoolError(f"{path}: is a directory")
        if not self.path.parent.is_dir():
            raise NotFoundError(f"{path}: directory does not exist")
        self._file = contextlib.ExitStack()
        out: BinaryIO = self._file.enter_context(replacing(self.path, durable=False))
        super().__init__(tarball.writer(tarball.OCI if kind == OCI_ARCHIVE else tarball.DOCKER, out, what),
                         [name] if name else [])
        self._done = False

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        super().commit(data, media_type, descriptor)
        self.writer.finish()
        self._file.close()  # renamed into place
        self._done = True
        self.deliver()

    def deliver(self) -> None:
        """The archive is complete at `self.path` (the Docker engine's destination loads it)."""

    def close(self) -> None:
        if not self._done:  # unwind `replacing` as a failure: the temp file goes away
            self.writer.abort()
            self._file.__exit__(ImgtoolError, ImgtoolError("copy failed"), None)


# -- the Docker engine --------------------------------------------------------------------------

def _docker():
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        reason = "not running or not reachable" if "Connection" in str(exc) or "No such file" in str(exc) else type(exc).__name__
        raise RegistryError(f"docker engine at {where}: {reason}") from None
    return client


def open_daemon_source(name: str) -> ArchiveSource:
    """`docker-daemon:NAME`: the engine's image, taken through `docker save`."""
    import docker

    client = _docker()
    try:
        image = client.images.get(name)
        with tempfile.TemporaryFile(prefix="imgtool-docker-save-") as spool:
            for chunk in image.save(named=True):
                spool.write(chunk)
            spool.seek(0)
            wanted = name if ":" in name.rsplit("/", 1)[-1] or "@" in name else None
            return ArchiveSource(spool, wanted, f"docker-daemon:{name}")
    except docker.errors.ImageNotFound:
        raise NotFoundError(f"docker-daemon:{name}: no such image in the docker engine") from None
    except docker.errors.APIError as exc:
        raise RegistryError(f"docker-daemon:{name}: {exc.explanation or exc}") from None
    finally:
        client.close()


class DaemonDestination(ArchiveDestination):
    """`docker-daemon:NAME`: the image written as a docker-archive and `docker load`ed."""

    def __init__(self, name: str):
        scratch = Path(tempfile.mkdtemp(prefix="imgtool-docker-load-"))
        self._scratch = scratch
        super().__init__(DOCKER_ARCHIVE, str(scratch / "image.tar"), name, f"docker-daemon:{name}")

    def deliver(self) -> None:
        import docker

        client = _docker()
        try:
            with open(self.path, "rb") as archive:
                client.images.load(archive)
        except docker.errors.APIError as exc:
            raise RegistryError(f"{self.what}: docker load failed: {exc.explanation or exc}") from None
        finally:
            client.close()

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._scratch, ignore_errors=True)
