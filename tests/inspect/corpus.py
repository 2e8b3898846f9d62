"""The planted corpus: fake secrets of every rule family, placed so that some are visible, some
overwritten, deleted, deleted with their directory, hidden by an opaque whiteout, or only in the
config (Env, Labels) or the history (ARG, `RUN |N K=V`); plus decoys that look like secrets and are
not. Token-shaped values are generated here at run time (seeded), private keys by `cryptography`,
so no literal secret lives in the tree.

`make()` returns the image spec and the ground truth: for each planted secret, where it is, its
status, and sha256(secret) as the scanner must report it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import zlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from .imagespec import Spec, directory, file, opaque, whiteout

ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True)
class Truth:
    """One planted occurrence, keyed as the scanner's JSON reports it."""

    family: str
    secret: str
    source: str                    # layer | config | history
    layer_index: int | None = None
    path: str | None = None
    status: str = "n/a"
    removed_in_layer: int | None = None
    config_field: str | None = None
    history_index: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.secret.encode()).hexdigest()

    def key(self) -> tuple:
        return (self.source, self.layer_index, self.path, self.config_field, self.history_index, self.sha256)


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
    import datetime
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2026, 1, 1))
            .not_valid_after(datetime.datetime(2036, 1, 1)).sign(key, hashes.SHA256()))
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pub.decode()


def _docker_auth(g: Gen) -> str:
    return base64.b64encode(f"ci-bot:{g.s(24)}".encode()).decode()


@dataclass
class Plan:
    """What goes where: the planted files by fate, the files that overwrite them, the metadata."""

    g: Gen
    decoy_files: list
    decoy_count: int
    groups: dict            # status -> [(path, content, [(family, secret)])]
    second_key: str
    build_npm: str
    arg_pw: str
    wget_pw: str
    env: list
    labels: dict


def plan(seed: int = 10) -> Plan:
    """Generate every value of the corpus (keys fresh from `cryptography`, tokens seeded)."""
    g = Gen(seed)
    k = private_keys()
    second_key = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    decoy_files, decoy_count = decoys(g)

    planted: list[tuple[str, str, list[tuple[str, str]]]] = []   # (path, content, [(family, secret)])

    def plant(path: str, content: str, *secrets: tuple[str, str]) -> None:
        planted.append((path, content, list(secrets)))

    pw, dbpw, dburl_pw = g.password(18), g.s(15), g.s(14)
    plant("/app/config/settings.yaml", f"server:\n  port: 8080\ndatabase:\n  user: app\n  password: \"{pw}\"\n",
          ("generic", pw))
    plant("/app/.env", f"APP_ENV=production\nDB_PASSWORD={dbpw}\nDATABASE_URL=postgres://app:{dburl_pw}@db.internal:5432/app\n",
          ("generic", dbpw), ("database-url", dburl_pw))
    aws_id, aws_secret = g.aws_id(), g.aws_secret()
    plant("/root/.aws/credentials", f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\nregion = eu-west-1\n",
          ("aws", aws_id), ("aws", aws_secret))
    gcp_key = k["pkcs8"] + "\n"
    gcp = {"type": "service_account", "project_id": "corpus-project", "private_key_id": g.s(40, "0123456789abcdef"),
           "private_key": gcp_key, "client_email": "builder@corpus-project.iam.gserviceaccount.com",
           "client_id": g.s(21, string.digits), "token_uri": "https://oauth2.googleapis.com/token"}
    plant("/app/keys/gcp.json", json.dumps(gcp, indent=2), ("gcp", gcp_key))
    azure = g.azure_key()
    sas = base64.b64encode(g.r.randbytes(32)).decode()
    plant("/app/config/bus.json", json.dumps({"ServiceBus": f"Endpoint=sb://corpus.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={sas}"}),
          ("azure", sas))
    plant("/app/config/storage.conf", f"connection = DefaultEndpointsProtocol=https;AccountName=corpusstore;AccountKey={azure};EndpointSuffix=core.windows.net\n",
          ("azure", azure))
    ghp = g.github()
    plant("/app/src/github_client.py", f"import requests\n\nGITHUB_TOKEN = \"{ghp}\"\n\ndef repos():\n    return requests.get(URL, auth=('x', GITHUB_TOKEN))\n",
          ("github", ghp))
    stripe = g.stripe()
    plant("/app/src/billing.js", f"const stripe = require(\"stripe\")(\"{stripe}\");\nmodule.exports = stripe;\n", ("stripe", stripe))
    glpat = g.gitlab()
    plant("/app/scripts/deploy.sh", f"#!/bin/sh\nexport GITLAB_TOKEN={glpat}\ncurl -H \"PRIVATE-TOKEN: $GITLAB_TOKEN\" https://gitlab.internal/api/v4/projects\n",
          ("gitlab", glpat))
    hook, xoxb = g.slack_webhook(), g.slack()
    plant("/app/notify.json", json.dumps({"webhook": hook, "bot": xoxb}), ("slack", hook), ("slack", xoxb))
    npm = g.npm()
    plant("/home/app/.npmrc", f"//registry.npmjs.org/:_authToken={npm}\n", ("npm", npm))
    plant("/app/keys/encrypted.pem", k["encrypted"] + "\n", ("private-key", k["encrypted"]))
    plant("/root/.ssh/id_ed25519", k["openssh"] + "\n", ("ssh-key", k["openssh"]))
    visible = list(planted)

    planted.clear()
    pypi = g.pypi()
    plant("/root/.pypirc", f"[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = {pypi}\n", ("pypi", pypi))
    fine = g.github_fine()
    plant("/app/config/notes.txt", f"ci token: {fine}\n", ("github", fine))
    plant("/home/app/.ssh/id_rsa", k["rsa"] + "\n", ("ssh-key", k["rsa"]))
    overwritten = list(planted)

    planted.clear()
    auth = _docker_auth(g)
    plant("/root/.docker/config.json", json.dumps({"auths": {"registry.corpus.test": {"auth": auth}}}), ("docker-config", auth))
    netrc_pw = g.s(20)
    plant("/root/.netrc", f"machine artifacts.corpus.test login deploy password {netrc_pw}\n", ("netrc", netrc_pw))
    plant("/app/keys/ec.pem", k["ec"] + "\n", ("tls-key", k["ec"]))
    plant("/etc/ssl/private/server.key", k["dsa"] + "\n", ("tls-key", k["dsa"]))
    deleted = list(planted)

    planted.clear()
    cred = g.github()
    plant("/tmp/build/.git-credentials", f"https://deploy-bot:{cred}@github.com\n", ("git-credentials", cred))
    plant("/tmp/build/keys/deploy_rsa", k["rsa"] + "\n", ("private-key", k["rsa"]))
    dckr = g.dockerhub()
    plant("/tmp/build/token.txt", f"DOCKERHUB_TOKEN={dckr}\n", ("dockerhub", dckr))
    deleted_dir = list(planted)

    planted.clear()
    client_key = base64.b64encode((second_key + "\n").encode()).decode()
    kube_token = f"{g.s(6, string.ascii_lowercase + string.digits)}.{g.s(16, string.ascii_lowercase + string.digits)}"
    kube = ("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n"
            "users:\n- name: admin\n  user:\n"
            f"    client-key-data: {client_key}\n- name: bootstrap\n  user:\n    token: {kube_token}\n")
    plant("/opt/secrets/kubeconfig", kube, ("kubeconfig", client_key), ("kubeconfig", kube_token))
    pgp = pgp_block(g)
    plant("/opt/secrets/signing.asc", pgp + "\n", ("private-key", pgp))
    ppk = putty(g)
    plant("/opt/secrets/deploy.ppk", ppk + "\n", ("putty", ppk))
    jwt = g.jwt()
    plant("/opt/secrets/session.txt", f"Authorization: Bearer {jwt}\n", ("jwt", jwt))
    opaqued = list(planted)

    env_token, env_ghp, label_glpat = g.s(32), g.github(), g.gitlab()
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"API_TOKEN={env_token}",
           f"GITHUB_TOKEN={env_ghp}", "APP_ENV=production"] + ENV_DECOYS(g)
    return Plan(g, decoy_files, decoy_count,
                {"visible": visible, "overwritten": overwritten, "deleted": deleted + deleted_dir, "deleted-opaque": opaqued},
                second_key, g.npm(), g.password(16), g.s(18), env, {"deploy.gitlab-token": label_glpat, **LABEL_DECOYS(g)})


OVERWRITES = {"/root/.pypirc": "[pypi]\nusername = __token__\n", "/app/config/notes.txt": "ci token: see vault\n"}
REMOVED = ("/tmp/build", "/root/.docker/config.json", "/root/.netrc", "/app/keys/ec.pem", "/etc/ssl/private/server.key")
OPAQUE_DIR = "/opt/secrets"


def layer_truth(p: Plan, planted: int, overwrite: int, remove: int) -> list[Truth]:
    """Truth for the layer files, given the indexes of the layers that plant, overwrite and remove."""
    removed_in = {"visible": None, "overwritten": overwrite, "deleted": remove, "deleted-opaque": remove}
    truth = [Truth(family, secret, "layer", planted, path, status, removed_in[status])
             for status, group in p.groups.items() for path, _, secrets in group for family, secret in secrets]
    truth.append(Truth("ssh-key", p.second_key, "layer", overwrite, "/home/app/.ssh/id_rsa", "visible"))
    return truth


def metadata_truth(config: dict, secrets: list[tuple[str, str]]) -> list[Truth]:
    """Truth for config and history: every Env item, label and history line that holds a planted value."""
    truth = []
    cfg = config.get("config") or {}
    for family, secret in secrets:
        for i, item in enumerate(cfg.get("Env") or []):
            if secret in item:
                truth.append(Truth(family, secret, "config", config_field=f"Env[{i}]"))
        for key, value in (cfg.get("Labels") or {}).items():
            if secret in value:
                truth.append(Truth(family, secret, "config", config_field=f"Labels.{key}"))
        layer = 0
        for i, h in enumerate(config.get("history") or []):
            index = None if h.get("empty_layer") else layer
            layer += 0 if h.get("empty_layer") else 1
            if secret in (h.get("created_by") or ""):
                truth.append(Truth(family, secret, "history", index, config_field=f"history[{i}].created_by", history_index=i))
    return truth


def metadata_secrets(p: Plan) -> list[tuple[str, str]]:
    """The planted values that live only in the config and the history."""
    return [("npm", p.build_npm), ("generic", p.arg_pw), ("cli", p.wget_pw), ("generic", p.env[1].split("=", 1)[1]),
            ("github", p.env[2].split("=", 1)[1]), ("gitlab", p.labels["deploy.gitlab-token"])]


def make(seed: int = 10) -> tuple[Spec, list[Truth], int]:
    """(image spec, ground truth, number of decoys), layers written directly (no builder involved)."""
    p = plan(seed)
    spec = Spec()
    spec.layer("/bin/sh -c #(nop) ADD file:base in / ", *p.decoy_files)
    l1 = spec.layer("COPY app / # buildkit", *[file(path, c) for group in p.groups.values() for path, c, _ in group])
    l2 = spec.layer(f"RUN |1 NPM_TOKEN={p.build_npm} /bin/sh -c echo \"//registry.npmjs.org/:_authToken=${{NPM_TOKEN}}\" "
                    "> ~/.npmrc && npm ci && rm ~/.npmrc # buildkit",
                    *[file(path, c) for path, c in OVERWRITES.items()], file("/home/app/.ssh/id_rsa", p.second_key + "\n"))
    l3 = spec.layer(f"RUN /bin/sh -c rm -rf {' '.join(REMOVED)} && rm -rf {OPAQUE_DIR} && mkdir {OPAQUE_DIR} # buildkit",
                    *[whiteout(path) for path in REMOVED], opaque(OPAQUE_DIR), file(OPAQUE_DIR + "/README", "mounted at runtime\n"))
    spec.meta(f"ARG DB_ADMIN_PASSWORD={p.arg_pw}")
    spec.meta("ENV APP_ENV=production")
    spec.meta(f"RUN /bin/sh -c wget --http-user=deploy --http-password={p.wget_pw} https://artifacts.corpus.test/app.tgz")
    spec.env, spec.labels = p.env, p.labels
    for text in HISTORY_DECOYS(p.g):
        spec.meta(text)
    config = {"config": {"Env": spec.env, "Labels": spec.labels},
              "history": [{"created_by": st.created_by, "empty_layer": st.members is None} for st in spec.steps]}
    return spec, layer_truth(p, l1, l2, l3) + metadata_truth(config, metadata_secrets(p)), p.decoy_count


def context(ctx, seed: int = 10) -> tuple[Plan, list[str]]:
    """A build context and Dockerfile planting the same corpus through `imgtool build`; returns the
    plan and the build flags (build args, labels). Layers: 0 base, 1 decoys, 2 planted, 3 rm, 4 overwrites."""
    from pathlib import Path

    p = plan(seed)
    ctx = Path(ctx)

    def put(tree: str, path: str, content) -> None:
        dest = ctx / tree / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content.encode() if isinstance(content, str) else content)

    for kind, path, content, _ in p.decoy_files:
        if kind == "file":
            put("decoys", path, content)
    for group in p.groups.values():
        for path, content, _ in group:
            put("planted", path, content)
    for path, content in {**OVERWRITES, "/home/app/.ssh/id_rsa": p.second_key + "\n"}.items():
        put("overwrite", path, content)
    env = " ".join(f'{item.split("=", 1)[0]}="{item.split("=", 1)[1]}"' for item in p.env[1:])
    (ctx / "Dockerfile").write_text(
        "FROM busybox:latest\n"
        "COPY decoys/ /\n"
        "COPY planted/ /\n"
        f"RUN rm -rf {' '.join(REMOVED)} && rm -rf {OPAQUE_DIR} && mkdir {OPAQUE_DIR} && echo mounted > {OPAQUE_DIR}/README\n"
        "COPY overwrite/ /\n"
        f"ARG DB_ADMIN_PASSWORD={p.arg_pw}\n"
        "ARG NPM_TOKEN\n"
        "RUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > /dev/null\n"
        f"ENV {env}\n")
    flags = ["--build-arg", f"NPM_TOKEN={p.build_npm}"]
    for key, value in p.labels.items():
        flags += ["--label", f"{key}={value}"]
    return p, flags


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
