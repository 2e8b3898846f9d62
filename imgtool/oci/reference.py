"""Image references, parsed and normalised as docker does (distribution/reference).

`busybox` is `docker.io/library/busybox:latest`; `host:port/name:tag` and `name@sha256:...` keep
their registry and digest. The first path component is a registry host only when it contains `.` or
`:` or is `localhost` (docker's rule), so `myorg/app` stays on docker.io.
"""

from __future__ import annotations

import re

from imgtool.errors import InvalidDigestError, InvalidReferenceError
from imgtool.frozen import frozen

from .digest import Digest

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_REGISTRY = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?\Z"
)
# `\Z`, not `$` (which also matches before a final newline: "latest\n" was a tag), and ASCII `\w`
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"^[\w][\w.-]{0,127}\Z", re.ASCII)


@frozen
class Reference:
    """A normalised reference: registry host, repository path, optional tag and digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """`registry/repository`, the fully qualified name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def familiar_name(self) -> str:
        """The name as docker prints it: `busybox`, `myorg/app`, `host:5000/app`."""
        if self.registry == DEFAULT_REGISTRY:
            repo = self.repository
            return repo[len(_OFFICIAL_PREFIX):] if repo.startswith(_OFFICIAL_PREFIX) else repo
        return self.name

    @property
    def familiar(self) -> str:
        """Short form kept as the store's `ref.name`: tag `latest` is implied, digests kept."""
        out = self.familiar_name
        if self.tag and self.tag != DEFAULT_TAG:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def familiar_tagged(self) -> str:
        """As docker prints a loaded or pushed image: `busybox:latest`, `host:5000/app:v1`."""
        out = self.familiar_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> "Reference":
        """The same repository with another tag (and no digest)."""
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r}")
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: Digest) -> "Reference":
        """The same repository pinned to a digest (tag dropped, as a pull by digest has none)."""
        return Reference(self.registry, self.repository, None, digest)

    @property
    def identifier(self) -> str:
        """What goes after `/manifests/` in a registry URL: the digest if pinned, else the tag."""
        return str(self.digest) if self.digest else (self.tag or DEFAULT_TAG)


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise; `latest` is added when no tag or digest is given (unless told not to)."""
    if not isinstance(text, str) or not text:
        raise InvalidReferenceError("invalid reference format: empty reference")
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest_text = rest.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(f"invalid reference {text!r}: {exc}") from None
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, _, tag = rest.rpartition(":")
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"invalid reference {text!r}: invalid tag {tag!r}")
    registry, path = _split_domain(rest, text)
    if not path or not all(_PATH_COMPONENT.match(c) for c in path.split("/")):
        problem = "repository name must be lowercase" if path != path.lower() else "invalid repository name"
        raise InvalidReferenceError(f"invalid reference {text!r}: {problem}")
    if len(f"{registry}/{path}") > MAX_NAME_LENGTH:
        raise InvalidReferenceError(f"invalid reference {text!r}: name longer than {MAX_NAME_LENGTH}")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest)


def _split_domain(name: str, text: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    is_host = sep and ("." in first or ":" in first or first == "localhost" or first != first.lower())
    if not is_host:
        registry, path = DEFAULT_REGISTRY, name
    else:
        if not _DOMAIN.match(first):
            raise InvalidReferenceError(f"invalid reference {text!r}: invalid registry host {first!r}")
        registry, path = first, remainder
    if registry == _LEGACY_REGISTRY:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    return registry, path
