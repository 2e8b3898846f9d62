"""How to talk to registries (the CLI's TLS, credential and retry flags), apart from the HTTP code.

Kept out of `transport.py` so that commands which never reach a registry (`save`, `load`, `copy`
between local transports) can name the options without importing `requests` (~60 ms with urllib3,
charset_normalizer and idna): `transport` is imported only when a network call happens.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from .credentials import Credential


@dataclass(frozen=True)
class Options:
    """How to talk to registries; the CLI's `--tls-verify`, `--cert-dir`, `--authfile`, `--creds`."""

    tls_verify: bool = True
    insecure: bool = False  # allow plain http for any host
    cert_dir: Path | None = None
    authfile: Path | None = None
    credential: Credential | None = None  # overrides the config file (`--creds`)
    retries: int = 5
    backoff: float = 0.5
    timeout: float = 60.0
    parallel: int = 4


def is_local(host: str) -> bool:
    """localhost or a loopback address (with or without a port): plain http is allowed there."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
