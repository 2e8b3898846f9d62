"""Private keys in binary containers: DER (PKCS#1/#8/SEC1), PKCS#12 (.p12/.pfx), Java KeyStores
(JKS, JCEKS) and binary OpenPGP secret keys (secring.gpg, `gpg --export-secret-keys`).

The containers are recognised by their structure, not their names, and only a container that holds
a private key is a finding: a PKCS#12 or JKS *trust store* (certificates only) is public material.
A password-protected PKCS#12 still leaks its key to anyone who guesses `changeit`, so its key bag's
presence is enough; it is reported as encrypted (medium severity), like an encrypted PEM.
"""

from __future__ import annotations

import re
import struct

from . import keys
from .keys import KeyInfo

_P12_HEAD = re.compile(rb"^\x30(?:\x80|\x82..|\x83...|\x81.)\x02\x01\x03\x30", re.S)
_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
_KEY_BAG = bytes.fromhex("060b2a864886f70d010c0a0101")
_SHROUDED_KEY_BAG = bytes.fromhex("060b2a864886f70d010c0a0102")
_PGP_PATH = re.compile(r"(^|/)(secring\.[a-z]+|[^/]*\.(gpg|pgp|key|sec|asc|bin))$")


def pkcs12(data: bytes) -> KeyInfo | None:
    """A PFX (PKCS#12) file with a key bag: `keyBag` in the clear, or the usual shrouded one."""
    if not _P12_HEAD.match(data[:16]) or _PKCS7_DATA not in data[:64]:
        return None
    if _KEY_BAG in data:
        return KeyInfo("pkcs12", False, "high")
    if _SHROUDED_KEY_BAG in data:
        return KeyInfo("pkcs12", True, "high")
    return None


def _utf(data: bytes, pos: int) -> int:
    (n,) = struct.unpack_from(">H", data, pos)
    return pos + 2 + n


def java_keystore(data: bytes) -> KeyInfo | None:
    """A JKS/JCEKS store with a PrivateKeyEntry (tag 1) or, JCEKS only, a SecretKeyEntry (tag 3)."""
    magic = data[:4]
    if magic not in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce") or len(data) < 12:
        return None
    try:
        version, count = struct.unpack_from(">II", data, 4)
        if version not in (1, 2) or count > 10000:
            return None
        pos = 12
        for _ in range(count):
            (tag,) = struct.unpack_from(">I", data, pos)
            if tag == 1 or (tag == 3 and magic == b"\xce\xce\xce\xce"):
                return KeyInfo("jks", True, "high")
            if tag != 2:
                return None
            pos = _utf(data, pos + 4) + 8              # alias, timestamp
            if version == 2:
                pos = _utf(data, pos)                  # certificate type
            (n,) = struct.unpack_from(">I", data, pos)
            pos += 4 + n
    except struct.error:
        return None
    return None


def binary_key(path: str, data: bytes) -> KeyInfo | None:
    """The private key a binary file is, whatever its name: DER, PKCS#12, JKS; OpenPGP secret-key
    packets only at key-like paths (one tag byte is too weak a signal elsewhere)."""
    if data[:1] == b"\x30":
        return keys.der_key(data) or pkcs12(data)
    if data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
        return java_keystore(data)
    if _PGP_PATH.search(path) and keys.pgp_secret(data) and len(data) >= 200:
        return KeyInfo("pgp", False, "medium")
    return None
