"""A registry repository as an image source and destination (`docker://HOST/NAME:TAG`).

As a destination it skips blobs the repository has (HEAD), mounts blobs the blob-location cache
says another repository of the same registry holds, and uploads the rest; the root manifest goes
last, under the tag. Every blob seen (pulled, pushed, mounted) is remembered for later mounts.
"""

from __future__ import annotations

from typing import BinaryIO

from imgtool.oci import reference
from imgtool.oci.descriptor import Descriptor

from .blobcache import BlobLocations
from .endpoint import OnBytes, Opener
from .options import Options
from .registry import Repository
from .transport import Client


class RegistrySource:
    """An image by tag or digest in a registry repository."""

    memo = None  # what a registry sends is validated

    def __init__(self, ref: reference.Reference, options: Options | None = None,
                 locations: BlobLocations | None = None, client: Client | None = None):
        self.ref = ref
        self.what = f"docker://{ref}"
        self.client = client or Client(ref.registry, options)
        self.repo = Repository(self.client, ref.repository)
        self.locations = locations or BlobLocations()

    def root(self) -> tuple[bytes, str]:
        return self.repo.manifest(self.ref.identifier)

    def manifest(self, descriptor: Descriptor) -> bytes:
        return self.repo.manifest(str(descriptor.digest))[0]

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        self.locations.add(self.ref.registry, self.ref.repository, str(descriptor.digest))
        return self.repo.open_blob(descriptor)

    def close(self) -> None:
        self.locations.save()
        self.client.close()


class RegistryDestination:
    """A repository to push to; the tag (or, without one, the digest) names the root."""

    def __init__(self, ref: reference.Reference, options: Options | None = None,
                 locations: BlobLocations | None = None, client: Client | None = None):
        self.ref = ref
        self.what = f"docker://{ref}"
        self.client = client or Client(ref.registry, options)
        self.repo = Repository(self.client, ref.repository, push=True)
        self.locations = locations or BlobLocations()

    verifies = False  # uploads read the verified stream (and the registry checks the digest too)
    memo = None

    def _seen(self, descriptor: Descriptor) -> None:
        self.locations.add(self.ref.registry, self.ref.repository, str(descriptor.digest))

    def has_blob(self, descriptor: Descriptor) -> bool:
        if self.repo.has_blob(descriptor.digest):
            self._seen(descriptor)
            return True
        return False

    def put_blob(self, descriptor: Descriptor, opener: Opener, on_bytes: OnBytes) -> str:
        location = None
        others = [r for r in self.locations.repositories(self.ref.registry, str(descriptor.digest))
                  if r != self.ref.repository]
        if others:
            location = self.repo.mount(descriptor.digest, others[0])
            if location is None:
                self._seen(descriptor)
                return "mounted"
        self.repo.upload(descriptor, opener, location, on_bytes)
        self._seen(descriptor)
        return "copied"

    def put_manifest(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        self.repo.put_manifest(data, media_type, str(descriptor.digest))

    def commit(self, data: bytes, media_type: str, descriptor: Descriptor) -> None:
        self.repo.put_manifest(data, media_type, self.ref.tag or str(descriptor.digest))

    def close(self) -> None:
        self.locations.save()
        self.client.close()
