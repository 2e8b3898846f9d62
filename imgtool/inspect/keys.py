"""Private keys: PEM blocks (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8, OpenSSH, PGP), PuTTY .ppk files,
and binary DER keys at key-like paths.

A key is a finding only when its body parses as key material (`cryptography` loads it, or its
structure checks out for formats cryptography does not read): header-only literals in library code
and truncated or elided examples are not secrets.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Iterator

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

PEM = re.compile(
    r"-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----"
    r"((?:(?!-----BEGIN )[\s\S]){40,}?)-----END \1-----")
PUTTY = re.compile(r"PuTTY-User-Key-File-[1-3]: [\w@.-]+\r?\n[\s\S]{0,4096}?Private-Lines: (\d+)\r?\n((?:[A-Za-z0-9+/=]+(?:\r?\n|$))+)"
                   r"(?:(?:Private-MAC|Private-Hash): [0-9a-fA-F]+)?")
_ESCAPES = re.compile(r"\\r|\\n|\\t|\"\s*\+\s*\"|'\s*\+\s*'")


@dataclass(frozen=True)
class KeyInfo:
    """What a parsed key block is."""

    kind: str            # rsa, ec, dsa, pkcs8, encrypted, openssh, pgp, putty, der
    encrypted: bool
    confidence: str


def _lines(body: str) -> str:
    """A block body with escapes undone and one base64 run per line: a key pasted into an ENV or
    a YAML scalar often has its newlines turned into spaces (headers like `Proc-Type:` stay whole)."""
    out = []
    for ln in _ESCAPES.sub("\n", body).splitlines():
        ln = ln.strip()
        out.extend([ln] if ":" in ln or not ln else ln.split())
    return "\n".join(out)


def _body_bytes(body: str) -> bytes | None:
    lines = _lines(body).splitlines()
    b64 = "".join(ln for ln in lines if ln and ":" not in ln and not ln.startswith("="))
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None


def _der_complete(data: bytes) -> bool:
    """A single DER SEQUENCE spanning exactly the data (structure of a key we cannot load)."""
    if len(data) < 64 or data[0] != 0x30:
        return False
    n = data[1]
    if n < 0x80:
        return 2 + n == len(data)
    width = n & 0x7F
    if width > 4 or len(data) < 2 + width:
        return False
    return 2 + width + int.from_bytes(data[2:2 + width], "big") == len(data)


def pgp_secret(data: bytes) -> bool:
    """The data starts with an OpenPGP secret-key (or secret-subkey) packet."""
    if not data:
        return False
    first = data[0]
    if not first & 0x80:
        return False
    tag = first & 0x3F if first & 0x40 else (first >> 2) & 0x0F
    return tag in (5, 7)


def classify_pem(label: str, body: str) -> KeyInfo | None:
    """The key a BEGIN/END block holds, or None if its body is not key material."""
    raw = _body_bytes(body)
    if raw is None or len(raw) < 48:
        return None
    kind = label.split(" ")[0].lower() if label != "PRIVATE KEY" else "pkcs8"
    if label.startswith("OPENSSH"):
        if not raw.startswith(b"openssh-key-v1\0"):
            return None
        return KeyInfo("openssh", b"bcrypt" in raw[:64], "high")
    if label.startswith("PGP"):
        return KeyInfo("pgp", False, "high") if pgp_secret(raw) else None
    if label.startswith("SSH2"):
        return KeyInfo("ssh2", True, "medium")
    pem = f"-----BEGIN {label}-----\n" + _lines(body) + f"\n-----END {label}-----\n"
    try:
        # parsing proves it is a key; RSA's consistency check (the slow part) proves nothing more here
        serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
        return KeyInfo(kind, False, "high")
    except TypeError:  # encrypted: a secret behind a passphrase, still a leak
        return KeyInfo(kind, True, "high")
    except (ValueError, UnsupportedAlgorithm):  # a well-formed key cryptography cannot load
        return KeyInfo(kind, False, "medium") if _der_complete(raw) else None


@dataclass(frozen=True)
class KeyMatch:
    """A private key found in text: its span (BEGIN .. END) and what it is."""

    start: int
    end: int
    label: str
    info: KeyInfo


def find_pem(text: str) -> Iterator[KeyMatch]:
    """Every PEM private-key block that parses, with its span in `text`."""
    for m in PEM.finditer(text):
        info = classify_pem(m.group(1), m.group(2))
        if info is not None:
            yield KeyMatch(m.start(), m.end(), m.group(1), info)


def find_putty(text: str) -> Iterator[KeyMatch]:
    """PuTTY .ppk private keys whose Private-Lines section is as long as it says."""
    for m in PUTTY.finditer(text):
        lines = [ln for ln in m.group(2).splitlines() if ln.strip()]
        if lines and int(m.group(1)) > 0 and len("".join(lines)) >= 40 and _body_bytes("\n".join(lines)):
            encrypted = "Encryption: none" not in m.group(0)
            yield KeyMatch(m.start(), m.end(), "PuTTY", KeyInfo("putty", encrypted, "high"))


def der_key(data: bytes) -> KeyInfo | None:
    """A binary DER private key (PKCS#1/#8/SEC1): one DER SEQUENCE that cryptography loads."""
    if not _der_complete(data) or len(data) > 1 << 16:
        return None
    try:
        serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return KeyInfo("der", False, "high")
    except TypeError:
        return KeyInfo("der", True, "high")
    except (ValueError, UnsupportedAlgorithm):
        return None
