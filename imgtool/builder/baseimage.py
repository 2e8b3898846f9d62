"""FROM (and COPY --from) an image: the store's, else pulled, and the requested platform's.

Why here and not in the store: a build asks for a platform (`--platform`, `FROM --platform=...`)
and then needs exactly that image, as BuildKit does: from a multi-platform index in the store the
matching manifest, from a registry that platform's pull, and a single-platform image of another
platform refused instead of silently building on it.
"""

from __future__ import annotations

import threading

from imgtool.errors import ImgtoolError, NotFoundError
from imgtool.oci.descriptor import Platform
from imgtool.store import Store
from imgtool.store.image import Image, host_platform, parse_platform

_pull_lock = threading.Lock()


def host() -> str:
    """The build platform (`$BUILDPLATFORM`), `os/arch[/variant]`."""
    return str(host_platform())


def platform(text: str | None, where: str = "") -> Platform | None:
    """A requested platform (None: the host's, unchecked); a malformed one is one line, prefixed
    with `where` (the Dockerfile line of a `FROM --platform`)."""
    if not text:
        return None
    try:
        return parse_platform(text)
    except ImgtoolError as exc:
        raise ImgtoolError(f"{where}: {exc}" if where else str(exc)) from None


def load(store: Store, name: str, want: Platform | None) -> Image:
    """The image `name` for platform `want` (None: the host's): pulled if the store has no such name."""
    try:
        entry = store.find(name)
    except NotFoundError:
        with _pull_lock:  # two stages FROM the same missing image pull it once
            try:
                entry = store.find(name)
            except NotFoundError:
                _pull(store, name, want)
                entry = store.find(name)
    image = store.load(entry.descriptor, want)
    config = image.config
    if want is not None and (config.os, config.architecture) != (want.os, want.architecture):
        actual = "/".join(p for p in (config.os, config.architecture, config.variant) if p)
        raise NotFoundError(f"image is for {actual}, not the requested platform {want}")
    return image


def _pull(store: Store, name: str, want: Platform | None) -> None:
    """FROM of an image that is not in the store: pull it with the registry client, as docker does."""
    from imgtool import remote

    remote.pull(store, name, choice=remote.PlatformChoice(want))
