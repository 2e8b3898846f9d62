"""Key material wrapped in base64: a PEM key as a Kubernetes Secret's `tls.key`, a Helm value or an
env var (`LS0tLS1CRUdJTi...` is base64 of `-----BEGIN`), and a GCP service-account JSON passed as
`GOOGLE_CREDENTIALS=ewogICJ0eXBl...` (Terraform's and many CI systems' convention).

Only blobs that start like those encodings are decoded, and a blob is a finding only if what it
decodes to holds a private key that parses: base64 images, fonts and certificates stay silent.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterator

from . import keys
from .contexts import gcp_service_account
from .match import Match, Where, near

_PEM_B64 = re.compile(r"(?<![A-Za-z0-9+/])(LS0tLS1CRUdJTi[A-Za-z0-9+/]{100,}={0,2})(?![A-Za-z0-9+/=])")
# base64 of a JSON object: `{"` -> eyJ, `{\n` -> ewo, `{ "` -> eyAi, `{\r\n` -> ew0K
_JSON_B64 = re.compile(r"(?<![A-Za-z0-9+/])((?:eyJ|ewo|eyAi|ew0K)[A-Za-z0-9+/]{400,}={0,2})(?![A-Za-z0-9+/=.])")


def _decode(blob: str) -> str | None:
    try:
        return base64.b64decode(blob, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def encoded_keys(text: str, where: Where) -> Iterator[Match]:
    """Base64 blobs whose decoded text holds a parseable private key (or a service-account key)."""
    for m in near(_PEM_B64, text, ("ls0tls1crudjti",)):
        decoded = _decode(m.group(1))
        if decoded is not None and next(keys.find_pem(decoded), None) is not None:
            yield Match("private-key", "private-key", "critical", m.start(1), m.end(1), m.group(1),
                        "LS0tLS1CRUdJTi", "high", 75)
    for m in near(_JSON_B64, text, _JSON_WORDS):
        decoded = _decode(m.group(1))
        if decoded is not None and "service_account" in decoded and next(gcp_service_account(decoded, where), None):
            yield Match("gcp-service-account", "gcp", "critical", m.start(1), m.end(1), m.group(1), m.group(1)[:3], "high", 75)


# `{"type": "service_account"` and its pretty-printed forms (Google writes `type` first), lower-cased
_JSON_WORDS = ("eyj0exblijo", "ewogicj0exblijo", "ewogicaginr5cguio", "eyaidhlwzsi6", "ew0kicaidhlwzsi6")
ENCODED_RULES = ((("ls0tls1crudjti", *_JSON_WORDS), encoded_keys),)
