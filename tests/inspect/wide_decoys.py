"""The wide corpus's decoys: what real images hold that looks like the planted families and is not a
leak (or is a published one): placeholders in every syntax, framework defaults read from the
environment, public keys and certificates in every container (PEM, DER, PKCS#12 and JKS trust
stores, PGP public keys, CSRs), digests and IDs, and keys in packages' own test directories."""

from __future__ import annotations

import base64
import datetime
import io
import json
import struct
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .values import Gen


def _cert(key, cn: str = "ca.corpus.test") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(9).not_valid_before(datetime.datetime(2026, 1, 1))
            .not_valid_after(datetime.datetime(2036, 1, 1)).sign(key, hashes.SHA256()))


def _csr(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.corpus.test")])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def _jks_truststore(cert_der: bytes) -> bytes:
    alias = b"corpus-ca"
    out = b"\xfe\xed\xfe\xed" + struct.pack(">III", 2, 1, 2) + struct.pack(">H", len(alias)) + alias
    out += struct.pack(">Q", 1767225600000) + struct.pack(">H", 5) + b"X.509" + struct.pack(">I", len(cert_der)) + cert_der
    return out + b"\x11" * 20


def decoy_files(g: Gen) -> list[tuple[str, bytes]]:
    """(path, bytes) of every decoy file."""
    key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(65537, 2048)
    cert = _cert(key)
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    ssh_pub = rsa_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    fixture = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
    pgp_pub = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.b64encode(b"\x99\x01\x0d\x04" + g.r.randbytes(300)).decode()
               + "\n=" + g.s(4) + "\n-----END PGP PUBLIC KEY BLOCK-----\n")
    hexs = lambda n: g.s(n, "0123456789abcdef")  # noqa: E731
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("docs/README.txt", "password: <your password>\ntoken: ${TOKEN}\n")
        z.writestr("config/app.yaml", "api_key: ${API_KEY}\nsecret: changeme\n")
    text_files = {
        "/app/config/template.yaml": ("password: <your-password>\ntoken: xxxxxxxxxxxxxxxx\napi_key: ${API_KEY}\nsecret: changeme\n"
                                      "client_secret: \"{{ .Values.clientSecret }}\"\nPASSWORD: '%(password)s'\n"),
        "/app/src/settings.py": ("import os\nSECRET_KEY = os.environ[\"SECRET_KEY\"]\nDB_PASSWORD = os.getenv('DB_PASSWORD', '')\n"
                                 "API_TOKEN = config.get('api', 'token')\n"),
        "/app/src/server.js": "const apiKey = process.env.API_KEY;\nconst token = req.headers['x-api-key'];\n",
        "/app/config/secrets.yml": "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n",
        "/var/www/html/wp-config-sample.php": "<?php\ndefine( 'DB_PASSWORD', 'password_here' );\ndefine( 'AUTH_KEY', 'put your unique phrase here' );\n",
        "/etc/redis/redis-default.conf": "# requirepass foobared\n# masterauth <master-password>\n",
        "/docker-entrypoint-initdb.d/00-template.sql": "CREATE USER app WITH PASSWORD '${APP_PASSWORD}';\nALTER USER postgres PASSWORD 'postgres';\n",
        "/app/k8s/empty-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: \"\"\n  token: ${TOKEN}\n",
        "/app/k8s/configmap.yaml": f"apiVersion: v1\nkind: ConfigMap\ndata:\n  build: {hexs(40)}\n  id: {g.s(8)}\n",
        "/app/deploy/kubeconfig": "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: REDACTED\n",
        "/etc/ssl/certs/ca-bundle.crt": pem_cert * 3,
        "/etc/ssl/certs/app.csr": _csr(key),
        "/usr/share/keyrings/corpus-archive.asc": pgp_pub,
        "/etc/ssh/ssh_host_rsa_key.pub": ssh_pub + " root@build\n",
        "/etc/shadow": f"root:$6${g.s(16)}${g.s(86)}:19000:0:99999:7:::\n",
        "/etc/nginx/.htpasswd": f"admin:$apr1${g.s(8)}${g.s(22)}\n",
        "/etc/machine-id": hexs(32) + "\n",
        "/app/.git/packed-refs": "".join(f"{hexs(40)} refs/heads/b{i}\n" for i in range(5)),
        "/var/lib/dpkg/info/libc6.md5sums": "".join(f"{hexs(32)}  usr/lib/x86_64-linux-gnu/lib{i}.so\n" for i in range(10)),
        "/app/go.sum": "".join(f"github.com/x/m{i} v1.0.0 h1:{base64.b64encode(g.r.randbytes(32)).decode()}\n" for i in range(5)),
        "/app/data/ids.json": json.dumps({"users": [{"id": f"{hexs(8)}-{hexs(4)}-4{hexs(3)}-a{hexs(3)}-{hexs(12)}",
                                                     "arn": "arn:aws:iam::123456789012:role/app"} for _ in range(5)]}),
        "/app/static/fonts.css": "@font-face{src:url(data:font/woff2;base64," + base64.b64encode(g.r.randbytes(900)).decode() + ")}\n",
        "/app/config/sentry.yaml": f"dsn: https://{hexs(32)}@o12345.ingest.sentry.io/678\n",
        "/app/config/slack.env": "SLACK_BOT_TOKEN=xoxb-your-token-here\nSLACK_WEBHOOK=https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX\n",
        "/app/ansible/vault.yml": "$ANSIBLE_VAULT;1.1;AES256\n" + "".join(hexs(80) + "\n" for _ in range(6)),
        "/app/docs/connection.txt": "Server=myServerAddress;Database=myDataBase;User Id=myUsername;Password=myPassword;\n",
        "/app/config/jdbc.properties": "db.url=jdbc:mysql://localhost:3306/app?user=root&password=${DB_PASS}\n",
        "/app/.pgpass.example": "hostname:port:database:username:password\n",
        "/app/node_modules/jsonwebtoken/test/priv.pem": fixture,
        "/usr/local/lib/python3.11/site-packages/tornado/test/test.key": fixture,
        "/app/vendor/github.com/corp/tls/testdata/key.pem": fixture,
    }
    text_files["/app/node_modules/@octokit/auth-token/test/tokens.js"] = f"const t = '{g.crc_token('ghp_')}';\n"
    text_files["/usr/lib/python3/dist-packages/awsclient/defaults.py"] = f"KEY = 'AKIA{g.s(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}'\n"
    files = [(p, t.encode()) for p, t in text_files.items()]
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    files += [
        ("/etc/ssl/certs/corpus.der", cert_der),
        ("/app/certs/truststore.p12", pkcs12.serialize_key_and_certificates(None, None, None, [cert], serialization.NoEncryption())),
        ("/app/certs/truststore.jks", _jks_truststore(cert_der)),
        ("/app/docs/templates.zip", zbuf.getvalue()),
        ("/app/scripts/notes.ps1", b"\xff\xfe" + "$env:TOKEN = \"<your token>\"\r\n".encode("utf-16-le")),
        ("/usr/lib/libcorpus.so", b"\x7fELF\x02\x01\x01\x00" + g.r.randbytes(4096) + b"\0password\0token\0api_key\0" + g.r.randbytes(4096)),
    ]
    return files


def metadata_decoys() -> dict:
    """Env, Labels and history entries that name credentials without holding one."""
    return {
        "env": ["GITHUB_TOKEN_FILE=/run/secrets/gh", "PASSWORD_MIN_LENGTH=12", "VAULT_ADDR=https://vault.corpus.test",
                "API_KEY=${API_KEY}", "AWS_REGION=eu-west-1"],
        "labels": {"org.opencontainers.image.title": "corpus", "com.corpus.secret-scan": "enabled"},
        "history": ["RUN /bin/sh -c --mount=type=secret,id=npm,target=/root/.npmrc npm ci # buildkit",
                    "RUN |1 GITHUB_TOKEN= /bin/sh -c make # buildkit",
                    "RUN /bin/sh -c curl -H \"Authorization: Bearer $TOKEN\" https://api.corpus.test",
                    "RUN /bin/sh -c docker login -u ci -p \"$REGISTRY_PASSWORD\" registry.corpus.test"],
    }
