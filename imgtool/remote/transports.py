"""skopeo's transport names -> image sources and destinations.

`docker://REF`, `oci:DIR[:NAME]`, `oci-archive:FILE[:NAME]`, `docker-archive:FILE[:NAME]`,
`docker-daemon:NAME`, and a bare name for the store itself. As in skopeo, the path ends at the first
`:`, so `oci:/srv/layout:busybox:latest` is the image `busybox:latest` of `/srv/layout`.
"""

from __future__ import annotations

from imgtool.errors import InvalidReferenceError
from imgtool.oci import reference
from imgtool.store import Store

from .endpoint import ImageDestination, ImageSource
from .layouts import LayoutDestination, LayoutSource, open_layout
from .options import Options

TRANSPORTS = ("docker", "oci", "oci-archive", "docker-archive", "docker-daemon")


def _split(text: str) -> tuple[str | None, str]:
    if text.startswith("docker://"):
        return "docker", text[len("docker://"):]
    kind, sep, rest = text.partition(":")
    if sep and kind in TRANSPORTS[1:]:
        if not rest:
            raise InvalidReferenceError(f"{text!r}: {kind}: needs a path or name")
        return kind, rest
    return None, text


def _path_and_name(rest: str) -> tuple[str, str | None]:
    path, _, name = rest.partition(":")
    return path, name or None


def source(text: str, store: Store | None = None, options: Options | None = None) -> ImageSource:
    """The image a transport string names, as a source (requests is imported for `docker://` only)."""
    kind, rest = _split(text)
    if kind is None:
        return LayoutSource(store or Store.open(), text, what=text, is_store=True)
    if kind == "docker":
        from .registryimage import RegistrySource

        return RegistrySource(reference.parse(rest.lstrip("/")), options)
    if kind == "oci":
        path, name = _path_and_name(rest)
        return LayoutSource(open_layout(path, create=False), name, what=text)
    from . import archives  # tarfile, the layer model, docker-py: for these transports only

    if kind == "docker-daemon":
        return archives.open_daemon_source(rest)
    path, name = _path_and_name(rest)
    return archives.open_archive_source(kind, path, name)


def destination(text: str, store: Store | None = None, options: Options | None = None) -> ImageDestination:
    """Where a transport string says to write an image, as a destination."""
    kind, rest = _split(text)
    if kind is None:
        reference.parse(text)
        return LayoutDestination(store or Store.open(), [text], is_store=True)
    if kind == "docker":
        from .registryimage import RegistryDestination

        return RegistryDestination(reference.parse(rest.lstrip("/")), options)
    if kind == "oci":
        path, name = _path_and_name(rest)
        return LayoutDestination(open_layout(path, create=True), [], raw_tag=name, what=text)
    from . import archives

    if kind == "docker-daemon":
        return archives.DaemonDestination(rest)
    path, name = _path_and_name(rest)
    return archives.ArchiveDestination(kind, path, name, text)
