"""Structured token families: a fixed prefix and shape, then the checks that make a match a secret.

Each family is a regex whose group 1 is the secret; `validate` turns a candidate into a confidence
(or None: not a secret). Checksums are used where a family has one (GitHub and npm tokens end in a
base62 CRC32 of their random part): a valid checksum is high confidence, a token without one is
still reported (older tokens and generators lack it) with medium confidence.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass
from typing import Callable

from . import filters

_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


def crc32_checksum(body: str) -> str:
    """The 6-character base62 CRC32 GitHub and npm append to a token's random part."""
    return _base62(zlib.crc32(body.encode()))


def verified(secret: str) -> bool:
    """A GitHub or npm token whose CRC32 suffix is right: the issuer's format, not a lookalike."""
    prefix = secret[:4]
    if prefix not in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_") or len(secret) != 40:
        return False
    return crc32_checksum(secret[4:-6]) == secret[-6:]


def checksummed(prefix_len: int) -> Callable[[str], str | None]:
    """Validator for tokens ending in a CRC32: a right checksum is proof, a wrong one still a likely token."""
    def check(token: str) -> str | None:
        body = token[prefix_len:]
        if filters.token_placeholder(body):
            return None
        return "high" if crc32_checksum(body[:-6]) == body[-6:] else "medium"
    return check


def random_after(prefix_len: int) -> Callable[[str], str | None]:
    """Validator for prefixed tokens: whatever follows the prefix must look like random output."""
    def check(token: str) -> str | None:
        return None if filters.token_placeholder(token[prefix_len:]) else "high"
    return check


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _jwt(token: str) -> str | None:
    header, payload, _ = token.split(".", 2)
    try:
        head, body = json.loads(_b64url(header)), json.loads(_b64url(payload))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(head, dict) or not isinstance(head.get("alg"), str) or not isinstance(body, dict):
        return None
    if not token.split(".", 2)[2]:   # unsigned (alg none): still a bearer credential for lax verifiers
        return "medium" if head["alg"].lower() == "none" and body else None
    return "high"


def jwt_example(token: str) -> bool:
    """jwt.io's default token (sub 1234567890, John Doe) or RFC 7519's (iss joe), whatever signed it."""
    try:
        body = json.loads(_b64url(token.split(".")[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError, IndexError):
        return False
    if not isinstance(body, dict):
        return False
    jwt_io = body.get("sub") == "1234567890" and body.get("name") == "John Doe"
    rfc7519 = body.get("iss") == "joe" and "http://example.com/is_root" in body
    return jwt_io or rfc7519


def _aws_id(token: str) -> str | None:
    return None if filters.token_placeholder(token[4:]) and "EXAMPLE" not in token else "high"


def _aws_secret(secret: str) -> str | None:
    if filters.hash_like(secret) or filters.placeholder(secret) or filters.sequential(secret):
        return None
    if "EXAMPLE" in secret:
        return "high"
    classes = sum(bool(re.search(p, secret)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return "high" if classes >= 2 and filters.entropy(secret) >= 3.5 else None


def _azure(secret: str, size: int = 64) -> str | None:
    try:
        return "high" if len(base64.b64decode(secret, validate=True)) == size and not filters.repeated(secret) else None
    except (binascii.Error, ValueError):
        return None


def _slack_webhook(url: str) -> str | None:
    parts = url.rstrip("/").split("/")
    if any(filters.repeated(p[1:] if p[:1] in "TB" else p) for p in parts[-3:]):
        return None
    return None if filters.token_placeholder(parts[-1]) else "high"


@dataclass(frozen=True)
class TokenRule:
    """One structured family."""

    rule_id: str
    category: str
    severity: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    prefix: Callable[[str], str]
    validate: Callable[[str], str | None]


def rule(rule_id: str, category: str, severity: str, regex: str, keywords: tuple[str, ...],
          prefix: Callable[[str], str], validate: Callable[[str], str | None], flags: int = 0) -> TokenRule:
    """A family from its regex (group 1 is the secret), gating keywords, redaction prefix and validator."""
    return TokenRule(rule_id, category, severity, re.compile(regex, flags), keywords, prefix, validate)


def upto(sep: str) -> Callable[[str], str]:
    """Redaction prefix: the token up to and including `sep`."""
    return lambda s: s[: s.index(sep) + len(sep)] if sep in s else s[:4]


def fixed(n: int) -> Callable[[str], str]:
    """Redaction prefix: the first `n` characters (the vendor's fixed prefix)."""
    return lambda s: s[:n]


TOKEN_RULES: tuple[TokenRule, ...] = (
    rule("github-token", "github", "critical", _B + r"(gh[pousr]_[A-Za-z0-9]{36})" + _E,
          ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), fixed(4), checksummed(4)),
    rule("github-token", "github", "critical", _B + r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _E,
          ("github_pat_",), fixed(11), random_after(11)),
    rule("gitlab-token", "gitlab", "critical",
          _B + r"((?:glpat|gldt|glrt|glptt|glft|glffct|glsoat|gloas|glcbt|glimt|glagent)-[A-Za-z0-9_-]{20,})" + _E,
          ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glffct-", "glsoat-", "gloas-", "glcbt-", "glimt-", "glagent-"),
          upto("-"), lambda t: None if filters.token_placeholder(t.split("-", 1)[1]) else "high"),
    rule("slack-token", "slack", "high", _B + r"(xox[abposre]-(?:[0-9]+-)+[0-9A-Za-z]{8,})" + _E,
          ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-"), fixed(5),
          lambda t: None if filters.token_placeholder(t.rsplit("-", 1)[1]) else "high"),
    rule("slack-webhook", "slack", "high",
          r"(https://hooks\.slack\.com/(?:services|workflows)/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{20,})",
          ("hooks.slack.com",), lambda s: "https://hooks.slack.com/services/", _slack_webhook),
    rule("stripe-secret-key", "stripe", "critical", _B + r"((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,247})" + _E,
          ("sk_live_", "sk_test_", "rk_live_", "rk_test_"), fixed(8), random_after(8)),
    rule("npm-token", "npm", "critical", _B + r"(npm_[A-Za-z0-9]{36})" + _E, ("npm_",), fixed(4), checksummed(4)),
    rule("pypi-token", "pypi", "critical",
          _B + r"(pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,})" + _E,
          ("pypi-ag",), fixed(5), random_after(24)),
    rule("dockerhub-token", "docker", "critical", _B + r"(dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,})" + _E,
          ("dckr_pat_", "dckr_oat_"), fixed(9), random_after(9)),
    rule("aws-access-key-id", "aws", "critical", r"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9])",
          ("akia", "asia", "abia", "acca"), fixed(4), _aws_id),
    rule("aws-secret-access-key", "aws", "critical",
          r"(?i:aws[\w.-]{0,24}?secret[\w.-]{0,20}|secret[_.-]?access[_.-]?key)[\"']?(?:\s*(?::=|=>|=|:)\s*|[ \t]+)[\"']?"
          r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
          ("secret",), lambda s: "", _aws_secret),
    rule("azure-storage-key", "azure", "critical", r"(?i:AccountKey)=([A-Za-z0-9+/]{86}==)",
          ("accountkey=",), lambda s: "", _azure),
    rule("azure-storage-key", "azure", "critical", r"(?i:SharedAccessKey)=([A-Za-z0-9+/]{43}=)",
          ("sharedaccesskey=",), lambda s: "", lambda s: _azure(s, 32)),
    rule("azure-storage-key", "azure", "critical",
          r"(?i:azure[\w.-]{0,30}?(?:key|secret))[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9+/]{86}==)",
          ("azure",), lambda s: "", _azure),
    rule("jwt", "jwt", "medium", _B + r"(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.(?:[A-Za-z0-9_-]{10,}" + _E + r")?)",
          ("eyj",), lambda s: "eyJ", _jwt),
)
