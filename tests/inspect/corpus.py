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
import string
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .decoys import ENV_DECOYS, HISTORY_DECOYS, LABEL_DECOYS, decoys
from .imagespec import Spec, file, opaque, whiteout
from .values import Gen, _pem, pgp_block, private_keys, putty


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
