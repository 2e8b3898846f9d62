"""Server configuration: defaults, an optional TOML file, then command-line flags, in that order.

Every limit that protects the server from a hostile client (manifest size, page sizes, session
lifetime) lives here with a safe default, so a deployment can loosen or tighten it without code.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgtool.errors import ImgtoolError


class ConfigError(ImgtoolError):
    """A configuration file or flag that cannot be used."""


@dataclass
class Config:
    """Everything `registry.server.run` needs; see docs/registry.md for each field."""

    addr: str = "127.0.0.1:5000"
    root: Path = Path("/var/lib/imgtool/registry")
    htpasswd: Path | None = None
    token_key: Path | None = None
    token_issuer: str = "imgtool-registry"
    token_service: str = "imgtool-registry"
    token_realm: str | None = None  # default: <this server>/token
    token_ttl: int = 300
    tls_cert: Path | None = None
    tls_key: Path | None = None
    read_only: bool = False
    anonymous_pull: bool = False
    # user -> allowed actions ("pull", "push", "delete", "catalog"); users not listed get everything
    access: dict[str, list[str]] = field(default_factory=dict)
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_tags_page: int = 1000
    max_catalog_page: int = 1000
    max_referrers_page: int = 1000
    # buffered manifest bodies of all clients together; beyond it new ones wait, then get 429
    max_inflight_manifest_bytes: int = 64 * 1024 * 1024
    client_timeout: float = 60.0  # seconds without data before a client is dropped (slowloris)
    # a request body slower than this on average (after client_timeout s of credit) is dropped: a
    # byte a minute must not hold a connection and a manifest's budget forever; 0: no such rule
    min_body_rate: float = 4096.0
    auto_mount: bool = False  # mount without `from`: any repository the caller may pull (end-11)
    # accept manifests whose blobs are not in the repository (spec: MAY reject; mirrors, sparse copies)
    sparse_manifests: bool = False
    upload_ttl: float = 24 * 3600.0
    # upload sessions open at once (filesystem backend); beyond it a POST gets 429; 0: no limit
    max_upload_sessions: int = 10000
    gc_grace: float = 3600.0
    gc_interval: float = 0.0  # seconds between GC passes run by `serve`; 0: only `registry gc`
    fsync: bool = True
    access_log: bool = True
    # storage: "filesystem" (under `root`) or "s3" (one bucket shared by any number of instances)
    storage: str = "filesystem"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint: str | None = None  # e.g. MinIO; None: AWS
    s3_region: str = "us-east-1"
    s3_path_style: bool = False
    s3_part_size: int = 8 * 1024 * 1024  # multipart part size (S3 minimum 5 MiB)

    @property
    def host_port(self) -> tuple[str, int]:
        """`addr` split into host and port."""
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"invalid address {self.addr}: expected HOST:PORT with a port of 0-65535")
        return host.strip("[]") or "127.0.0.1", int(port)

    def check(self) -> "Config":
        """Reject combinations that cannot work, with a one-line reason."""
        self.host_port  # noqa: B018 - validates addr
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert and --tls-key must be given together")
        if self.storage not in ("filesystem", "s3"):
            raise ConfigError(f"storage {self.storage!r}: expected filesystem or s3")
        if self.storage == "s3" and not self.s3_bucket:
            raise ConfigError("storage s3 needs s3_bucket")
        if self.token_key and not self.htpasswd:
            raise ConfigError("token auth needs --htpasswd to authenticate users at the token endpoint")
        for user, actions in self.access.items():
            unknown = set(actions) - {"pull", "push", "delete", "catalog"}
            if unknown:
                raise ConfigError(f"access for {user!r}: unknown actions {sorted(unknown)}")
        return self


_PATHS = {"root", "htpasswd", "token_key", "tls_cert", "tls_key"}


def load(path: Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file at `path` (keys are Config field names), then non-None overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
    for key in _PATHS & values.keys():
        values[key] = Path(values[key])
    return Config(**values).check()
