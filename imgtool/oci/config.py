"""Image configuration (image-spec config.md): the runtime defaults, rootfs diff_ids and history.

Docker's extensions that builders need (Healthcheck, Shell, OnBuild) are typed fields; any other
unknown key is kept in `extra` so a config read and written again loses nothing.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from imgtool.errors import SchemaError
from imgtool.frozen import frozen

from . import canonical, schema
from .digest import Digest, of_bytes

_CONTAINER_FIELDS = {
    "User": "user", "ExposedPorts": "exposed_ports", "Env": "env", "Entrypoint": "entrypoint",
    "Cmd": "cmd", "Volumes": "volumes", "WorkingDir": "working_dir", "Labels": "labels",
    "StopSignal": "stop_signal", "ArgsEscaped": "args_escaped", "Healthcheck": "healthcheck",
    "Shell": "shell", "OnBuild": "on_build",
}
_HISTORY_FIELDS = {
    "created": "created", "author": "author", "created_by": "created_by",
    "comment": "comment", "empty_layer": "empty_layer",
}
_TOP_FIELDS = {"created", "author", "architecture", "os", "os.version", "os.features", "variant",
               "config", "rootfs", "history"}


@frozen
class ContainerConfig:
    """Execution defaults for a container made from the image (`config` in the image config)."""

    user: str | None = None
    exposed_ports: dict[str, dict] | None = None
    env: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: dict[str, dict] | None = None
    working_dir: str | None = None
    labels: dict[str, str] | None = None
    stop_signal: str | None = None
    args_escaped: bool | None = None
    healthcheck: dict[str, Any] | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; unset (None) fields omitted."""
        out = dict(self.extra)
        for key, attr in _CONTAINER_FIELDS.items():
            value = getattr(self, attr)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ContainerConfig":
        """From schema-validated JSON (JSON null means unset, as in Docker's configs)."""
        kwargs: dict[str, Any] = {}
        for key, attr in _CONTAINER_FIELDS.items():
            value = d.get(key)
            kwargs[attr] = tuple(value) if isinstance(value, list) else value
        kwargs["extra"] = {k: v for k, v in d.items() if k not in _CONTAINER_FIELDS}
        return cls(**kwargs)


@frozen
class History:
    """One build step: what made it, and whether it produced a layer."""

    created: str | None = None
    author: str | None = None
    created_by: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form; `empty_layer` written only when true (as docker and buildkit do)."""
        out: dict[str, Any] = {}
        for key, attr in _HISTORY_FIELDS.items():
            value = getattr(self, attr)
            if value not in (None, False):
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        """From schema-validated JSON."""
        return cls(**{attr: d[key] for key, attr in _HISTORY_FIELDS.items() if d.get(key) is not None})


@frozen
class ImageConfig:
    """The image configuration blob. `diff_ids` are the uncompressed layer digests, base first."""

    architecture: str
    os: str
    diff_ids: tuple[Digest, ...] = ()
    config: ContainerConfig = field(default_factory=ContainerConfig)
    history: tuple[History, ...] = ()
    created: str | None = None
    author: str | None = None
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form with spec field names."""
        out = dict(self.extra)
        out.update(architecture=self.architecture, os=self.os,
                   rootfs={"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]})
        config = self.config.to_dict()
        if config:
            out["config"] = config
        if self.history:
            out["history"] = [h.to_dict() for h in self.history]
        for key, value in (("created", self.created), ("author", self.author), ("variant", self.variant),
                           ("os.version", self.os_version)):
            if value:
                out[key] = value
        if self.os_features:
            out["os.features"] = list(self.os_features)
        return out

    def to_bytes(self) -> bytes:
        """Canonical bytes, validated against the config schema."""
        return canonical.validated(self.to_dict(), schema.CONFIG, "config")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImageConfig":
        """From schema-validated JSON; every diff_id is parsed strictly."""
        return cls(
            architecture=d["architecture"],
            os=d["os"],
            diff_ids=tuple(Digest.parse(x) for x in d["rootfs"]["diff_ids"]),
            config=ContainerConfig.from_dict(d.get("config") or {}),
            history=tuple(History.from_dict(h) for h in d.get("history") or ()),
            created=d.get("created"),
            author=d.get("author"),
            variant=d.get("variant"),
            os_version=d.get("os.version"),
            os_features=tuple(d.get("os.features") or ()),
            extra={k: v for k, v in d.items() if k not in _TOP_FIELDS},
        )

    @property
    def layer_history(self) -> tuple[History, ...]:
        """History entries that produced a layer, in diff_id order (empty_layer ones skipped)."""
        return tuple(h for h in self.history if not h.empty_layer)


def chain_ids(diff_ids: list[Digest]) -> list[Digest]:
    """ChainID(L0..Ln) per image-spec config.md: the identity of an applied stack of layers."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out


def parse_config(data: bytes, what: str = "config", memo: schema.Memo | None = None) -> ImageConfig:
    """Bytes -> ImageConfig, with JSON and schema errors as one line naming the field (`memo`:
    bytes it saw pass the schema before are not validated again, schema.validate_bytes)."""
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict):
        raise SchemaError(f"{what}: expected a JSON object")
    schema.validate_bytes(doc, data, schema.CONFIG, what, memo)
    return ImageConfig.from_dict(doc)
