"""Private keys in text formats other than PEM and PuTTY: the ssh.com SSH2 format (four dashes),
.NET's `<RSAKeyValue>` XML with its private parameters, GnuPG 2.1's `private-keys-v1.d` key files
(canonical or extended s-expressions) and OpenVPN static keys (`--tls-auth` / `--secret`).

The Dahlmanns et al. image study's `comsys` signatures include the XML keys; each format is checked
for its private part, so the public halves (an `<RSAKeyValue>` with only Modulus and Exponent, a
`shadowed-private-key` stub that lives on a smartcard) are not findings.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterator

from .keys import KeyInfo, KeyMatch

_SSH2 = re.compile(r"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\r?\n([\s\S]{40,}?)---- END SSH2 ENCRYPTED PRIVATE KEY ----")
_SSH2_MAGIC = b"\x3f\x6f\xf9\xeb"
_XML = re.compile(r"<(RSA|DSA)KeyValue>([\s\S]{40,16384}?)</\1KeyValue>")
_XML_FIELD = re.compile(r"<(\w+)>\s*([A-Za-z0-9+/=\s]+?)\s*</\1>")
_GNUPG = re.compile(r"\((?:[0-9]+:)?(protected-private-key|private-key)\s*\(")
_GNUPG_SECRET = re.compile(r"\((?:[0-9]+:)?(?:d|x|protected)[\s#0-9(]")
_OPENVPN = re.compile(r"-----BEGIN OpenVPN Static key V1-----\s*([0-9a-fA-F\s]{512,1100}?)-----END OpenVPN Static key V1-----")


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def _ssh2(text: str) -> Iterator[KeyMatch]:
    for m in _SSH2.finditer(text):
        body = "".join(ln.strip() for ln in m.group(1).splitlines() if ln.strip() and ":" not in ln and not ln.endswith("\\"))
        raw = _b64(body)
        if raw is not None and raw.startswith(_SSH2_MAGIC):
            yield KeyMatch(m.start(), m.end(), "SSH2 ENCRYPTED PRIVATE KEY", KeyInfo("ssh2", True, "high"))


def _xml(text: str) -> Iterator[KeyMatch]:
    for m in _XML.finditer(text):
        fields = {k: _b64(v) for k, v in _XML_FIELD.findall(m.group(2))}
        private = fields.get("D") if m.group(1) == "RSA" else fields.get("X")
        modulus = fields.get("Modulus") if m.group(1) == "RSA" else fields.get("P")
        if private and modulus and len(modulus) >= 64 and len(private) >= 20:
            yield KeyMatch(m.start(), m.end(), f"{m.group(1)}KeyValue", KeyInfo("xml", False, "high"))


def _gnupg(text: str) -> Iterator[KeyMatch]:
    for m in _GNUPG.finditer(text):
        end = text.find("\n\n", m.end())
        body = text[m.end(): end if end > 0 else len(text)]
        if len(body) >= 40 and _GNUPG_SECRET.search(body):
            encrypted = m.group(1) == "protected-private-key"
            yield KeyMatch(m.start(), m.end() + len(body), "GnuPG private-key", KeyInfo("gnupg", encrypted, "high"))


def _openvpn(text: str) -> Iterator[KeyMatch]:
    for m in _OPENVPN.finditer(text):
        digits = re.sub(r"\s", "", m.group(1))
        if len(digits) == 512 and len(set(digits.lower())) >= 10:
            yield KeyMatch(m.start(), m.end(), "OpenVPN Static key V1", KeyInfo("openvpn", False, "high"))


def find_other(text: str) -> Iterator[KeyMatch]:
    """Keys in the formats above, each only where its marker occurs."""
    if "---- BEGIN SSH2" in text:
        yield from _ssh2(text)
    if "KeyValue>" in text:
        yield from _xml(text)
    if "private-key" in text:
        yield from _gnupg(text)
    if "OpenVPN Static key" in text:
        yield from _openvpn(text)


KEYWORDS = ("---- begin ssh2", "keyvalue>", "private-key", "openvpn static key")
