"""Secrets wrapped in an encoding: a PEM key as a Kubernetes Secret's `tls.key`, a Helm value or an
env var (`LS0tLS1CRUdJTi...` is base64 of `-----BEGIN`), a GCP service-account JSON passed as
`GOOGLE_CREDENTIALS=ewogICJ0eXBl...` (Terraform's and many CI systems' convention), and a vendor
token stored base64'd (`GH_TOKEN_B64=Z2hwX...`), hex-encoded or percent-encoded (`https%3A%2F%2Fhooks.slack.com...`),
the decodings gitleaks' `--max-decode-depth` undoes.

Only blobs that start like those encodings are decoded, and a blob is a finding only if what it
decodes to holds a private key that parses, or a token its own rule accepts: base64 images, fonts,
certificates and digests stay silent.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterator
from urllib.parse import unquote

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


# base64 of the vendor prefixes a token starts with, up to the last character the prefix alone decides
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "sk_live_", "rk_live_",
                   "npm_", "pypi-AgEI", "dckr_pat_", "AKIA", "ASIA", "sk-proj-", "sk-ant-", "hf_", "hvs.", "SG.", "AIza",
                   "dop_v1_", "shpat_", "glsa_", "https://hooks.slack.com/")
_B64_PREFIXES = tuple(sorted({base64.b64encode(p.encode()).decode()[: len(p) * 4 // 3] for p in _TOKEN_PREFIXES}))
_B64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/])((?:" + "|".join(map(re.escape, _B64_PREFIXES)) + r")[A-Za-z0-9+/]{8,1400}={0,2})"
                        r"(?![A-Za-z0-9+/=])")
_B64_WORDS = tuple(sorted({p.lower() for p in _B64_PREFIXES}))
_HEX_TOKEN = re.compile(r"(?<![0-9A-Fa-f])((?:" + "|".join(p.encode().hex() for p in _TOKEN_PREFIXES) + r")(?:[0-9a-f]{2}){8,700})"
                        r"(?![0-9A-Fa-f])", re.I)
_HEX_WORDS = tuple(p.encode().hex() for p in _TOKEN_PREFIXES)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_URL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%._~+-")


def encoded_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, decoded text) for base64 and hex blobs that start like a token prefix and for runs
    with percent escapes: the text a token rule should see in their place."""
    for m in near(_B64_TOKEN, text, _B64_WORDS):
        decoded = _decode(m.group(1))
        if decoded is not None:
            yield m.start(1), m.end(1), decoded
    for m in near(_HEX_TOKEN, text, _HEX_WORDS):
        try:
            yield m.start(1), m.end(1), bytes.fromhex(m.group(1)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
    run_end = 0
    for m in _ESCAPE.finditer(text) if "%" in text else ():
        if m.start() < run_end:
            continue
        start, run_end = m.start(), m.end()
        while start > 0 and text[start - 1] in _URL_CHARS:
            start -= 1
        while run_end < len(text) and text[run_end] in _URL_CHARS:
            run_end += 1
        yield start, run_end, unquote(text[start:run_end])
