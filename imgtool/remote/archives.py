"""Archives and the Docker engine as image sources and destinations.

An OCI archive, a docker-archive and a Docker engine (`docker save` / `docker load` through
docker-py) all carry images as tarballs. Reading one goes through the store's archive loader into a
scratch layout (every digest, schema and layer tar checked against its diff_ids, as `imgtool load`
does); writing one collects the image in a scratch layout and then writes the tarball beside its
final name and renames it, so nothing half-written is ever visible.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from imgtool.errors import ImgtoolError, NotFoundError, RegistryError
from imgtool.oci import reference
from imgtool.oci.descriptor import Descriptor
from imgtool.store import Store

from .layouts import LayoutDestination, LayoutSource

OCI_ARCHIVE = "oci-archive"
DOCKER_ARCHIVE = "docker-archive"


def _scratch() -> Store:
    return Store.open(Path(tempfile.mkdtemp(prefix="imgtool-copy-")) / "layout")


def _remove(store: Store) -> None:
    shutil.rmtree(store.path.parent, ignore_errors=True)


class ArchiveSource(LayoutSource):
    """An image in an OCI archive or docker-archive file (or a stream of one)."""

    def __init__(self, stream: BinaryIO, name: str | None, what: str):
        from imgtool.store import archive

        scratch = _scratch()
        try:
            names = archive.load(scratch, stream, what)
            if name is None and len(names) > 1:
                raise NotFoundError(f"{what}: holds {len(names)} images ({', '.join(names)}); name one")
            super().__init__(scratch, name or names[0] if names else None, what)
        except BaseException:
            _remove(scratch)
            raise

    def close(self) -> None:
        _remove(self.store)


def open_archive_source(kind: str, path: str, name: str | None) -> ArchiveSource:
    """`oci-archive:FILE[:NAME]` / `docker-archive:FILE[:NAME]` as a source."""
    try:
        with open(path, "rb") as f:
            return ArchiveSource(f, name, f"{kind}:{path}")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImgtoolError(f"{path}: is a directory, expected a tar file") from None


class ArchiveDestination(LayoutDestination):
    """Collect the image in a scratch layout; `commit` writes the archive (or hands it to dockerd)."""

    def __init__(self, kind: str, path: str | None, name: str | None, what: str):
        self.kind = kind
        self.path = path
        self.name = reference.parse(name) if name else None
        super().__init__(_scratch(), [str(self.name)] if self.name else [], what=what)

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        super().commit(data, media_type, descriptor)
        self.write_out()

    def _write(self, out: BinaryIO) -> None:
        from imgtool.store import archive

        entry = self.store.images()[-1]
        if self.kind == OCI_ARCHIVE:
            archive.save_oci(self.store, [entry], out)
        else:
            tags = [self.name.familiar_tagged] if self.name and self.name.tag else []
            archive.save_docker(self.store, [(self.store.load(entry.descriptor), tags)], out)

    def write_out(self) -> None:
        """Write the archive file next to its destination, then rename it into place."""
        assert self.path is not None
        dest = Path(self.path)
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            with open(tmp, "wb") as out:
                self._write(out)
            os.replace(tmp, dest)
        except FileNotFoundError:
            raise NotFoundError(f"{self.path}: directory does not exist") from None
        finally:
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        super().close()
        _remove(self.store)


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
        super().__init__(DOCKER_ARCHIVE, None, name, f"docker-daemon:{name}")

    def write_out(self) -> None:
        import docker

        client = _docker()
        try:
            with tempfile.TemporaryFile(prefix="imgtool-docker-load-") as spool:
                self._write(spool)
                spool.seek(0)
                client.images.load(spool)
        except docker.errors.APIError as exc:
            raise RegistryError(f"{self.what}: docker load failed: {exc.explanation or exc}") from None
        finally:
            client.close()

