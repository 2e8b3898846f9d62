"""Descriptor and platform (image-spec descriptor.md, image-index.md): typed, with exact JSON mapping."""

from __future__ import annotations

import base64
from dataclasses import field
from typing import Any

from imgtool.frozen import frozen

from .digest import Digest


@frozen
class Platform:
    """The platform an image in an index runs on."""

    architecture: str
    os: str
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form with spec field names; optional fields omitted when unset."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Platform":
        """From schema-validated JSON."""
        return cls(
            architecture=d["architecture"],
            os=d["os"],
            os_version=d.get("os.version"),
            os_features=tuple(d.get("os.features", ())),
            variant=d.get("variant"),
        )

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@frozen
class Descriptor:
    """A typed pointer to content: media type, digest and size, plus optional metadata."""

    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    artifact_type: str | None = None
    data: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form with spec field names; optional fields omitted when unset."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Descriptor":
        """From schema-validated JSON; the digest is parsed strictly (registered algorithms' lengths)."""
        return cls(
            media_type=d["mediaType"],
            digest=Digest.parse(d["digest"]),
            size=d["size"],
            annotations=dict(d.get("annotations") or {}),
            urls=tuple(d.get("urls") or ()),
            platform=Platform.from_dict(d["platform"]) if d.get("platform") else None,
            artifact_type=d.get("artifactType"),
            data=base64.b64decode(d["data"]) if "data" in d else None,
        )

