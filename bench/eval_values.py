"""Token shapes and key material for the outside evaluation (bench/secret_eval.py), written from the
public rule sets' documented formats (gitleaks' default config, TruffleHog's detectors,
detect-secrets' plugins), not from imgtool's rules. Every value is generated per run from a seed.
"""

from __future__ import annotations

import base64
import json
import string
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.inspect.values import Gen  # noqa: E402

AN = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
URL = AN + "_-"


class V(Gen):
    """Seeded generator of vendor-shaped values (`s` and `crc_token` from the tests' generator)."""

    def pw(self, n: int = 16) -> str:
        return self.s(n, AN + "!#%*+-.?@^_~")

    def uuid(self) -> str:
        h = self.s(32, HEX)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def b64(self, n: int) -> str:
        return base64.b64encode(self.r.randbytes(n)).decode()

    def jwt(self, claims: dict | None = None) -> str:
        def enc(o) -> str:
            return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
        body = claims or {"sub": self.uuid(), "role": "service", "iat": 1733000000, "exp": 1893456000}
        sig = base64.urlsafe_b64encode(self.r.randbytes(32)).rstrip(b"=").decode()
        return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(body)}.{sig}"


def sh(*cmd: str, cwd: str | None = None, input: bytes | None = None) -> bytes:
    return subprocess.run(cmd, check=True, capture_output=True, cwd=cwd, input=input).stdout


def keys() -> dict[str, bytes]:
    """Private keys in the forms tools write them, made by openssl, ssh-keygen, keytool and gpg."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)
        sh("openssl", "genrsa", "-traditional", "-out", f"{d}/rsa1.pem", "2048")
        out["rsa-pkcs1"] = (p / "rsa1.pem").read_bytes()
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f"{d}/p8.pem")
        out["pkcs8"] = (p / "p8.pem").read_bytes()
        sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/ec.pem")
        out["ec-sec1"] = (p / "ec.pem").read_bytes()
        sh("openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{d}/ed.pem")
        out["ed25519-pkcs8"] = (p / "ed.pem").read_bytes()
        sh("openssl", "pkcs8", "-topk8", "-in", f"{d}/p8.pem", "-passout", "pass:Tr0ub4dor&3x", "-out", f"{d}/enc.pem")
        out["pkcs8-encrypted"] = (p / "enc.pem").read_bytes()
        sh("openssl", "rsa", "-in", f"{d}/rsa1.pem", "-traditional", "-aes256", "-passout", "pass:Tr0ub4dor&3x",
           "-out", f"{d}/rsaenc.pem")
        out["rsa-pkcs1-encrypted"] = (p / "rsaenc.pem").read_bytes()
        sh("openssl", "dsaparam", "-genkey", "-noout", "-out", f"{d}/dsa.pem", "2048")
        out["dsa"] = (p / "dsa.pem").read_bytes()
        sh("openssl", "rsa", "-in", f"{d}/rsa1.pem", "-outform", "DER", "-traditional", "-out", f"{d}/rsa.der")
        out["der"] = (p / "rsa.der").read_bytes()
        for kind in ("ed25519", "rsa", "ecdsa"):
            sh("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "deploy@ci", "-f", f"{d}/id_{kind}")
            out[f"openssh-{kind}"] = (p / f"id_{kind}").read_bytes()
            out[f"openssh-{kind}.pub"] = (p / f"id_{kind}.pub").read_bytes()
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "hunter-7Qx", "-f", f"{d}/id_enc")
        out["openssh-encrypted"] = (p / "id_enc").read_bytes()
        sh("openssl", "req", "-x509", "-key", f"{d}/rsa1.pem", "-subj", "/CN=app.internal", "-days", "30",
           "-out", f"{d}/cert.pem")
        out["cert"] = (p / "cert.pem").read_bytes()
        sh("openssl", "rsa", "-in", f"{d}/rsa1.pem", "-pubout", "-out", f"{d}/pub.pem")
        out["public"] = (p / "pub.pem").read_bytes()
        sh("openssl", "pkcs12", "-export", "-inkey", f"{d}/rsa1.pem", "-in", f"{d}/cert.pem", "-passout",
           "pass:changeit", "-out", f"{d}/bundle.p12")
        out["pkcs12"] = (p / "bundle.p12").read_bytes()
        sh("keytool", "-genkeypair", "-alias", "app", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=app",
           "-storetype", "JKS", "-keystore", f"{d}/app.jks", "-storepass", "changeit", "-keypass", "changeit")
        out["jks"] = (p / "app.jks").read_bytes()
        sh("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", f"{d}/cert.pem", "-storetype", "JKS",
           "-keystore", f"{d}/trust.jks", "-storepass", "changeit")
        out["jks-truststore"] = (p / "trust.jks").read_bytes()
        home = p / "gnupg"
        home.mkdir(mode=0o700)
        sh("gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key", "ci@example.org",
           "ed25519", "sign", "never")
        out["pgp"] = sh("gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                        "--armor", "--export-secret-keys", "ci@example.org")
        out["pgp-public"] = sh("gpg", "--homedir", str(home), "--armor", "--export", "ci@example.org")
        out["pgp-public-bin"] = sh("gpg", "--homedir", str(home), "--export", "ci@example.org")
    return out
