"""Generators for the corpus's values: token shapes (seeded), keys and certificates (`cryptography`)."""

from __future__ import annotations

import base64
import datetime
import json
import random
import string
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class Gen:
    """Seeded generators for each family's shape."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def crc_token(self, prefix: str) -> str:
        body = self.s(30)
        n, out = zlib.crc32(body.encode()), ""
        while n:
            n, rem = divmod(n, 62)
            out = B62[rem] + out
        return prefix + body + out.rjust(6, "0")

    def github(self) -> str: return self.crc_token("ghp_")
    def github_fine(self) -> str: return "github_pat_" + self.s(22) + "_" + self.s(59)
    def gitlab(self) -> str: return "glpat-" + self.s(20, ALNUM + "_-")
    def slack(self) -> str: return f"xoxb-{self.s(12, string.digits)}-{self.s(13, string.digits)}-{self.s(24)}"
    def slack_webhook(self) -> str:
        return f"https://hooks.slack.com/services/T{self.s(10, string.ascii_uppercase + string.digits)}/B{self.s(10, string.ascii_uppercase + string.digits)}/{self.s(24)}"
    def stripe(self) -> str: return "sk_live_" + self.s(24)
    def npm(self) -> str: return self.crc_token("npm_")
    def pypi(self) -> str: return "pypi-AgEIcHlwaS5vcmc" + self.s(140, ALNUM + "_-")
    def dockerhub(self) -> str: return "dckr_pat_" + self.s(27, ALNUM + "_-")
    def aws_id(self) -> str: return "AKIA" + self.s(16, string.ascii_uppercase + string.digits)
    def aws_secret(self) -> str: return self.s(40, ALNUM + "/+")
    def azure_key(self) -> str: return base64.b64encode(self.r.randbytes(64)).decode()
    def password(self, n: int = 18) -> str: return self.s(n, ALNUM + "!#%&*+-.=?@^_~")

    def jwt(self) -> str:
        def enc(obj) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
        body = {"sub": self.s(12), "iss": "https://auth.internal", "exp": 1900000000}
        return enc({"alg": "HS256", "typ": "JWT"}) + "." + enc(body) + "." + self.s(43, ALNUM + "_-")


def _pem(key, fmt, encryption=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             encryption or serialization.NoEncryption()).decode().strip()


def private_keys() -> dict[str, str]:
    """One key per PEM flavour, generated now."""
    traditional, pkcs8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
    return {
        "rsa": _pem(rsa.generate_private_key(65537, 2048), traditional),
        "ec": _pem(ec.generate_private_key(ec.SECP256R1()), traditional),
        "dsa": _pem(dsa.generate_private_key(2048), traditional),
        "pkcs8": _pem(ec.generate_private_key(ec.SECP384R1()), pkcs8),
        "encrypted": _pem(rsa.generate_private_key(65537, 2048), pkcs8,
                          serialization.BestAvailableEncryption(b"correct horse")),
        "openssh": _pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH),
    }


def pgp_block(g: Gen) -> str:
    body = bytes([0x95, 0x01, 0xD8, 0x04]) + g.r.randbytes(470)
    b64 = base64.b64encode(body).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(lines) + "\n=" + g.s(4) + "\n-----END PGP PRIVATE KEY BLOCK-----"


def putty(g: Gen) -> str:
    pub = base64.b64encode(g.r.randbytes(51)).decode()
    priv = base64.b64encode(g.r.randbytes(37)).decode()
    return (f"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\n"
            f"{pub[:64]}\n{pub[64:]}\nPrivate-Lines: 1\n{priv}\nPrivate-MAC: {g.s(64, '0123456789abcdef')}")


def certificate_and_public_key() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus.test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2026, 1, 1))
            .not_valid_after(datetime.datetime(2036, 1, 1)).sign(key, hashes.SHA256()))
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pub.decode()
