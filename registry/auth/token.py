"""Docker token auth: the built-in token endpoint's JWTs, signed and verified with one key pair.

The registry is both issuer and verifier, so there is exactly one trusted key: a token verifies only
if it carries that key's algorithm (no `none`, no algorithm switching, no embedded keys: the class of
CVE-2025-24976) and a valid signature, issuer, audience and time window. Claims follow the Docker
token spec: `access: [{"type": "repository", "name": ..., "actions": [...]}]`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ..config import ConfigError

LEEWAY = 30  # seconds of clock skew tolerated on `nbf` and `exp`, the same on every request


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    """A bearer token that must not be trusted (the reason is for logs, never for the client)."""


class TokenSigner:
    """Issues and verifies the registry's JWTs with a PEM private key (EC P-256 or RSA)."""

    def __init__(self, key_file: Path, issuer: str, service: str, ttl: int):
        try:
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"cannot load token key {key_file}: {exc}") from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            self.alg = "ES256"
        elif isinstance(key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        else:
            raise ConfigError(f"token key {key_file}: use an EC P-256 or RSA private key")
        self._key = key
        self._public = key.public_key()
        der = self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(hashlib.sha256(der).digest()[:24])
        self.issuer, self.service, self.ttl = issuer, service, ttl

    def issue(self, subject: str, access: list[dict[str, Any]]) -> tuple[str, int, int]:
        """A signed token granting `access`; returns (token, issued_at, expires_in)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": subject, "aud": self.service, "iat": now, "nbf": now - 1,
            "exp": now + self.ttl, "jti": secrets.token_hex(16), "access": access,
        }
        return self.sign(claims), now, self.ttl

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims` with this registry's key (what `issue` hands out)."""
        header = {"typ": "JWT", "alg": self.alg, "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{_b64(self._sign(signing_input.encode()))}"

    def _sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[call-arg,union-attr]
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg,union-attr]

    def _verify_signature(self, data: bytes, signature: bytes) -> None:
        if self.alg == "ES256":
            if len(signature) != 64:
                raise InvalidToken("bad signature length")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            self._public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]
        else:
            self._public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg,union-attr]

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this registry issued and that is valid now; else InvalidToken."""
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(_unb64(header_b64))
            if header.get("alg") != self.alg:
                raise InvalidToken(f"algorithm {header.get('alg')!r} is not {self.alg}")
            self._verify_signature(f"{header_b64}.{claims_b64}".encode(), _unb64(signature_b64))
            claims = json.loads(_unb64(claims_b64))
        except InvalidSignature:
            raise InvalidToken("bad signature") from None
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # RecursionError: a header of 5,000 nested `[` fits in 8 KiB, and was a 500
            raise InvalidToken(f"malformed token: {type(exc).__name__}") from None
        if not isinstance(claims, dict):
            raise InvalidToken("claims are not a JSON object")
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidToken(f"claim {name} is not a number")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != self.issuer or self.service not in audiences:
            raise InvalidToken("wrong issuer or audience")
        if not in_window(claims, time.time()):
            raise InvalidToken("expired or not yet valid")
        if not isinstance(claims.get("access", []), list):
            raise InvalidToken("access claim is not a list")
        return claims


def in_window(claims: dict[str, Any], now: float) -> bool:
    """Whether verified claims are valid at `now`: the one rule, with one leeway, for fresh and
    cached tokens alike (a cache that used another rule accepted a token on every other request)."""
    return claims.get("nbf", 0) - LEEWAY <= now < claims.get("exp", 0) + LEEWAY


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """`repository:name:pull,push` -> ("repository", "name", ["pull", "push"]); None if malformed.

    The name may contain `:` only for a host:port prefix, which this registry never uses, so the
    type is the first field and the actions the last.
    """
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    return parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]
