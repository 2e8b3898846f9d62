"""The distribution client: pull into the store, push from it, copy between any two transports.

`pull` and `push` are what other commands call (the builder's FROM of an image not in the store,
`build --push`); the CLI adds flags and progress around the same functions.
"""

from __future__ import annotations

from imgtool.oci import reference
from imgtool.oci.descriptor import Descriptor
from imgtool.store import Store

from .copy import PlatformChoice, copy
from .options import Options
from .progress import Progress

__all__ = ["Options", "PlatformChoice", "copy", "pull", "push"]


def pull(store: Store, ref: str, options: Options | None = None, choice: PlatformChoice = PlatformChoice(),
         progress: Progress | None = None) -> tuple[Descriptor, reference.Reference]:
    """Pull `ref` (docker's normalisation: `busybox` is docker.io/library/busybox:latest) into the
    store and name it so; returns the stored root and the name. The host platform unless told."""
    from .layouts import LayoutDestination
    from .registryimage import RegistrySource

    options = options or Options()
    parsed = reference.parse(ref)
    src = RegistrySource(parsed, options)
    try:
        dst = LayoutDestination(store, [str(parsed)], what=str(store.path), is_store=True)
        try:
            root = copy(src, dst, choice, progress, options.parallel)
        finally:
            dst.close()
    finally:
        src.close()
    return root, dst.named[0]


def push(store: Store, name: str, dest: str | None = None, options: Options | None = None,
         progress: Progress | None = None) -> tuple[Descriptor, reference.Reference]:
    """Push the store image `name` to `dest` (default: the registry and repository its name says);
    every platform of a multi-platform image goes. Returns the pushed root and where it went."""
    from .layouts import LayoutSource
    from .registryimage import RegistryDestination

    options = options or Options()
    target = reference.parse(dest or name)
    src = LayoutSource(store, name, what=name, is_store=True)
    dst = RegistryDestination(target, options)
    try:
        root = copy(src, dst, PlatformChoice(all=True), progress, options.parallel)
    finally:
        dst.close()
        src.close()
    return root, target


def login(host: str, username: str, password: str, options: Options | None = None):
    """Check a username and password against a registry, then save them as docker does; returns
    where they went (the config file, or the credential helper). Wrong ones raise AuthError."""
    import dataclasses

    from .credentials import Credential, CredentialStore
    from .transport import Client

    options = options or Options()
    credential = Credential(username, password)
    client = Client(host, dataclasses.replace(options, credential=credential))
    try:
        r = client.request("GET", "/v2/")
        r.close()
        if r.status_code != 200:
            raise client.fail(r, "login")
        if client.auth.refresh_token:  # the token server offered a refresh token: keep that instead
            credential = Credential(username, identity_token=client.auth.refresh_token)
    finally:
        client.close()
    return CredentialStore(options.authfile).store(host, credential)


def referrers(ref: str, artifact_type: str | None = None, options: Options | None = None):
    """The index of manifests whose `subject` is the image `ref` names (tag resolved to its digest)."""
    from imgtool.oci.digest import of_bytes

    from .registry import Repository
    from .transport import Client

    parsed = reference.parse(ref)
    client = Client(parsed.registry, options)
    try:
        repo = Repository(client, parsed.repository)
        digest = parsed.digest or of_bytes(repo.manifest(parsed.identifier)[0])
        return repo.referrers(digest, artifact_type)
    finally:
        client.close()


def save(store: Store, images: list[tuple[Descriptor, list[str]]], out, fmt: str = "oci",
         progress: Progress | None = None) -> None:
    """Write store images, each with its names, as one OCI archive (`fmt="oci"`, every platform) or
    docker-archive (`"docker"`, the host's platform) to a stream: `imgtool save` and `build --output`
    go through the same copy routine as push and pull."""
    from . import tarball
    from .layouts import LayoutSource

    archive = tarball.writer(fmt, out, f"{fmt} archive", scratch=str(store.tmp_dir))
    choice = PlatformChoice(all=fmt == tarball.OCI)
    try:
        for descriptor, names in images:
            source = LayoutSource(store, None, what=", ".join(names) or str(descriptor.digest), descriptor=descriptor,
                                  is_store=True)
            copy(source, archive.for_image(names), choice, progress)
    except BaseException:
        archive.abort()
        raise
    archive.finish()


def load(store: Store, stream, what: str) -> list[str]:
    """`imgtool load`: every image of an OCI archive or docker-archive into the store through the
    copy routine (the archive read and checked into a scratch layout first, see `archives.py`), then
    all of them named in one index.json update: a bad archive or name leaves the store as it was.
    Returns the names as `docker load` prints them (an unnamed image: its digest)."""
    from .archives import ArchiveImages
    from .layouts import LayoutDestination, LayoutSource

    with store.writing():  # prune waits for the scratch layout and the staged blobs
        archive = ArchiveImages(stream, what, tmp_dir=store.tmp_dir)
        try:
            dst = LayoutDestination(store, [], what=str(store.path), deferred=True, is_store=True)
            try:
                plan = []
                for descriptor, names in archive.images():
                    copy(LayoutSource(archive.scratch, None, what=what, descriptor=descriptor), dst,
                         PlatformChoice(all=True))
                    plan.append((descriptor, names))  # the archive's own entry: its annotations kept
                dst.name_all(plan)
            finally:
                dst.close()
        finally:
            archive.close()
    return archive.names


def export(store: Store, descriptor: Descriptor, names: list[str], kind: str, dest: str) -> None:
    """`build --output`: an image as an OCI layout directory (`oci-layout`, names as the store
    writes them), an OCI archive (`oci`) or a docker-archive (anything else) at `dest`."""
    from pathlib import Path

    from imgtool.atomicfile import replacing

    from .layouts import LayoutDestination, LayoutSource, open_layout

    if kind == "oci-layout":
        source = LayoutSource(store, None, what=str(descriptor.digest), descriptor=descriptor, is_store=True)
        target = LayoutDestination(open_layout(dest, create=True), names, what=dest)
        try:
            copy(source, target, PlatformChoice(all=True))
        finally:
            target.close()
        return
    with replacing(Path(dest), durable=False) as out:
        save(store, [(descriptor, names)], out, "oci" if kind == "oci" else "docker")
