"""The decoys: files, Env, Labels and history lines that look like secrets and are not."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .imagespec import directory, file
from .values import ALNUM, Gen, _pem, certificate_and_public_key


def _hex(g: Gen, n: int) -> str:
    return g.s(n, "0123456789abcdef")


def _uuid(g: Gen) -> str:
    h = _hex(g, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def decoys(g: Gen) -> tuple[list, int]:
    """Files that look like secrets and are not: placeholders, documented examples, hashes, UUIDs,
    base64 images, lock files, minified JS, public keys and certificates, references. Also two
    real-looking secrets in vendored test fixtures and docs, which must come out suppressed."""
    cert, pub = certificate_and_public_key()
    aws_doc_id, aws_doc_secret = "AKIA" + "IOSFODNN7" + "EXAMPLE", "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
    jwt_io = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
              + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + g.r.randbytes(600)).decode()
    fixture_key = _pem(rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL)
    files = {
        "/home/ci/.npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nalways-auth=true\n",
        "/app/config/slack.yaml": "webhook: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
        "/app/docs/aws.txt": f"aws_access_key_id = {aws_doc_id}\naws_secret_access_key = {aws_doc_secret}\n",
        "/app/static/auth-demo.js": f"// paste a token, e.g. the jwt.io sample\nconst sample = \"{jwt_io}\";\n",
        "/app/README.txt": "Test with Stripe's documented key: " + "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc" + "\n",
        "/app/config/docs.yaml": "password: changeme\napi_key: your-api-key-here\nsecret: \"<redacted>\"\ntoken: \"\"\n",
        "/app/config/prod.yaml": "password: ${DB_PASSWORD}\ntoken: \"{{ .Values.token }}\"\nclient_secret: $CLIENT_SECRET\n",
        "/app/lib/pemutil.py": ("def is_key(line):\n    return line.startswith(\"-----BEGIN RSA PRIVATE KEY-----\")\n\n"
                                "TEMPLATE = \"-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\"\n"),
        "/app/keys/truncated.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0000000000000000000000000000000000000000000000000000\n...\n-----END RSA PRIVATE KEY-----\n",
        "/etc/ssl/certs/corpus.pem": cert,
        "/app/keys/public.pem": pub,
        "/root/.ssh/id_ed25519.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(43) + " app@build\n",
        "/root/.ssh/known_hosts": "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        "/root/.ssh/authorized_keys": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + g.s(300) + " ops@bastion\n",
        "/app/package-lock.json": json.dumps({"name": "app", "lockfileVersion": 3, "packages": {
            f"node_modules/pkg{i}": {"version": "1.0.0", "resolved": f"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.0.0.tgz",
                                     "integrity": "sha512-" + base64.b64encode(g.r.randbytes(64)).decode()} for i in range(20)}}, indent=2),
        "/app/yarn.lock": "".join(f"pkg{i}@^1.0.0:\n  version \"1.0.0\"\n  resolved \"https://registry.yarnpkg.com/pkg{i}/-/pkg{i}-1.0.0.tgz#{_hex(g, 40)}\"\n  integrity sha512-{base64.b64encode(g.r.randbytes(64)).decode()}\n\n" for i in range(10)),
        "/app/SHA256SUMS": "".join(f"{_hex(g, 64)}  app-{i}.tar.gz\n" for i in range(10)),
        "/app/config/build.yaml": (f"commit: {_hex(g, 40)}\npassword_hash: $2b$12${g.s(53, ALNUM + './')}\n"
                                   f"secret_digest: sha256:{_hex(g, 64)}\napi_token: {_hex(g, 64)}\nauth_token: {_hex(g, 40)}\n"
                                   f"signing_key: sha256:{_hex(g, 64)}\n"),
        "/app/config/ids.yaml": f"client_id: {_uuid(g)}\nsession_token: {_uuid(g)}\nrequest_id: {_uuid(g)}\n",
        "/app/static/logo.json": json.dumps({"icon_token": "data:image/png;base64," + png, "image": png}),
        "/app/static/style.css": f".logo{{background:url(data:image/png;base64,{png})}}\n",
        "/app/static/vendor.min.js": ("!function(e,t){var n={password:\"\",token:e.token,apiKey:t.apiKey,secret:n.secret,"
                                      "k:\"-----BEGIN RSA PRIVATE KEY-----\",auth:function(u,p){return btoa(u+\":\"+p)}};"
                                      + ",".join(f"v{i}:\"{g.s(40)}\"" for i in range(30)) + "}(window,document);\n"),
        "/app/node_modules/ssh2/test/fixtures/id_rsa": fixture_key + "\n",
        "/usr/share/doc/app/examples/app.conf": f"password = {g.password(16)}\n",
        "/app/src/db.py": ("import os\npassword = os.environ[\"DB_PASSWORD\"]\ntoken = self.token\napi_key = get_api_key()\n"
                           "SECRET_KEY = settings.SECRET_KEY\nauth_token = \"Bearer \" + token\n"),
        "/app/.env.example": "API_KEY=your-api-key-here\nDB_PASSWORD=changeme\nSECRET=<secret>\nTOKEN=xxxxxxxxxxxxxxxx\n",
        "/app/config/paths.conf": ("password_file = /run/secrets/db_password\ntoken_url = https://auth.corpus.test/oauth/token\n"
                                   "secret: /etc/app/secret\ntoken_endpoint: https://auth.corpus.test/token\n"),
        "/app/config/urls.yaml": ("primary: postgres://user:password@localhost/db\nrepo: https://user:${TOKEN}@github.com/org/repo.git\n"
                                  "mysql: mysql://root:@localhost:3306/db\ncache: redis://:changeme@redis:6379\n"
                                  "proxy: http://username:pass@proxy:3128\ndocs: https://www.corpus.test/a:b@c\n"),
        "/app/config/placeholders.txt": ("ghp_" + "x" * 36 + "\nAKIA" + "X" * 16 + "\nglpat-" + "x" * 20 + "\nsk_live_" + "0" * 24
                                         + "\nxoxb-000000000000-0000000000000-" + "x" * 24 + "\nnpm_" + "0123456789" * 3 + "abcdef\n"),
        "/app/deploy/kubeconfig.yaml": ("apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: ${K8S_TOKEN}\n"
                                        f"    client-certificate-data: {base64.b64encode(cert.encode()).decode()}\n"),
        "/home/ci/.docker/config.json": json.dumps({"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}),
        "/app/data/random.txt": "\n".join(base64.b64encode(g.r.randbytes(30)).decode() for _ in range(20)) + "\n",
        "/app/config/versions.ini": "[app]\nversion = 1.2.3\nsecret_version = 12\nmax_tokens = 4096\ntoken_ttl = 3600\n",
        "/app/docs/guide.txt": "export GITHUB_TOKEN=<your token>\npassword: example\n",
        "/app/config/sequence.env": "API_KEY=abcdef1234567890abcdef\nSECRET_KEY=qwertyuiop123456\n",
        "/app/locale/strings.json": json.dumps({"password": "Password", "token": "Token", "secret": "Enter your secret phrase"}),
        "/app/config/flags.toml": "auth_token = true\npassword = false\napi_key = \"none\"\nsecret = \"null\"\n",
    }
    members = [directory("/app"), directory("/etc"), directory("/root"), directory("/tmp")]
    members += [file(p, c) for p, c in files.items()]
    members.append(file("/bin/tool", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + ("ghp_" + g.s(36)).encode() + b"\x00" * 32))
    return members, len(files) - 2   # the fixture key and the doc example are suppressed, not decoys


def ENV_DECOYS(g: Gen) -> list[str]:  # noqa: N802
    return [f"GPG_KEY={_hex(g, 40).upper()}", f"PYTHON_SHA256={_hex(g, 64)}", "TOKEN_URL=https://auth.corpus.test/token",
            "NPM_TOKEN=", "DB_PASSWORD_FILE=/run/secrets/db", "SECRET_NAME=app-secrets", f"BUILD_ID={_uuid(g)}"]


def LABEL_DECOYS(g: Gen) -> dict[str, str]:  # noqa: N802
    return {"org.opencontainers.image.revision": _hex(g, 40),
            "org.opencontainers.image.source": "https://github.com/corpus/app", "maintainer": "ops@corpus.test"}


def HISTORY_DECOYS(g: Gen) -> list[str]:  # noqa: N802
    return ["ARG VERSION=1.2.3", "RUN |1 NPM_TOKEN= /bin/sh -c npm ci # buildkit",
            f"ENV GPG_KEY={_hex(g, 40).upper()}", "RUN /bin/sh -c curl -fsSL https://get.corpus.test/install.sh | sh",
            "ARG PASSWORD_FILE=/run/secrets/pw", "LABEL maintainer=ops@corpus.test"]
