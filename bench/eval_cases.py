"""The outside evaluation's plants and decoys: secrets as images carry them (dotfiles, config
formats, shell history, source strings, encodings, key containers, Env/Labels/ARG) and values that
look like secrets but are not (placeholders, package metadata, test vectors, public material).

A plant is (family, path, secret): found when an unsuppressed finding at `path` overlaps `secret`
(for binary containers, any finding at the path). Decoys are whole files: any unsuppressed finding
in one is a false positive.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import quote

from eval_values import AN, HEX, URL, V, keys


@dataclass
class Case:
    files: dict[str, bytes] = field(default_factory=dict)
    plants: list[tuple[str, str, str | None]] = field(default_factory=list)   # family, path, secret
    decoys: list[str] = field(default_factory=list)
    env: list[tuple[str, str, str | None]] = field(default_factory=list)      # key, value, family (None: decoy)
    labels: list[tuple[str, str, str | None]] = field(default_factory=list)
    args: list[tuple[str, str, str | None]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def file(self, path: str, text: str | bytes, *secrets: tuple[str, str | None]) -> None:
        self.files[path] = text.encode() if isinstance(text, str) else text
        for family, secret in secrets:
            self.plants.append((family, path, secret))

    def decoy(self, path: str, text: str | bytes) -> None:
        self.files[path] = text.encode() if isinstance(text, str) else text
        self.decoys.append(path)


def tokens(v: V) -> dict[str, str]:
    """One value per token family, from the vendors' documented shapes."""
    return {
        "github-classic": v.crc_token("ghp_"), "github-oauth": v.crc_token("gho_"), "github-app": v.crc_token("ghs_"),
        "github-user-to-server": v.crc_token("ghu_"), "github-refresh": v.crc_token("ghr_"),
        "github-fine-grained": "github_pat_" + v.s(22) + "_" + v.s(59),
        "gitlab-pat": "glpat-" + v.s(20, URL), "gitlab-pat-routable": "glpat-" + v.s(38, URL) + ".01." + v.s(7, HEX),
        "gitlab-runner": "glrt-t1_" + v.s(27, URL), "gitlab-deploy": "gldt-" + v.s(20, URL),
        "gitlab-ff-client": "glffct-" + v.s(20, URL), "gitlab-cicd-job": "glcbt-64_" + v.s(20, URL),
        "slack-bot": f"xoxb-{v.s(12, '0123456789')}-{v.s(13, '0123456789')}-{v.s(24)}",
        "slack-user": f"xoxp-{v.s(12, '0123456789')}-{v.s(12, '0123456789')}-{v.s(13, '0123456789')}-{v.s(32, HEX)}",
        "slack-config": "xoxe.xoxp-1-" + v.s(164, AN),
        "slack-webhook": f"https://hooks.slack.com/services/T{v.s(10, AN.upper())}/B{v.s(10, AN.upper())}/{v.s(24)}",
        "stripe-live": "sk_live_" + v.s(99), "stripe-restricted": "rk_live_" + v.s(99),
        "stripe-webhook": "whsec_" + v.s(32),
        "twilio-key": "SK" + v.s(32, HEX), "sendgrid": f"SG.{v.s(22, URL)}.{v.s(43, URL)}",
        "npm": v.crc_token("npm_"), "pypi": "pypi-AgEIcHlwaS5vcmc" + v.s(150, URL), "dockerhub": "dckr_pat_" + v.s(27, URL),
        "vault-service": "hvs." + v.s(92, URL), "vault-legacy": "s." + v.s(24),
        "shopify": "shpat_" + v.s(32, HEX),
        "openai": "sk-proj-" + v.s(74, URL) + "T3BlbkFJ" + v.s(74, URL),
        "openai-legacy": "sk-" + v.s(20) + "T3BlbkFJ" + v.s(20),
        "anthropic": "sk-ant-api03-" + v.s(93, URL) + "AA", "anthropic-admin": "sk-ant-admin01-" + v.s(93, URL) + "AA",
        "huggingface": "hf_" + v.s(34, AN[:52]), "huggingface-org": "api_org_" + v.s(34, AN[:52]),
        "digitalocean": "dop_v1_" + v.s(64, HEX), "heroku-v2": "HRKU-AA" + v.s(58, URL),
        "google-api": "AIza" + v.s(35, URL), "newrelic-user": "NRAK-" + v.s(27, AN.upper()[26:] + AN.upper()[:26]),
        "sentry-user": "sntryu_" + v.s(64, HEX), "grafana-sa": f"glsa_{v.s(32)}_{v.s(8, HEX)}",
        "grafana-cloud": "glc_" + v.b64(60).rstrip("="),
        "doppler": "dp.pt." + v.s(43), "pulumi": "pul-" + v.s(40, HEX), "postman": f"PMAK-{v.s(24, HEX)}-{v.s(34, HEX)}",
        "linear": "lin_api_" + v.s(40), "atlassian": "ATATT3xFfGF0" + v.s(174, URL) + "=" + v.s(8, HEX.upper()),
        "databricks": "dapi" + v.s(32, HEX), "planetscale": "pscale_tkn_" + v.s(43, URL),
        "age": "AGE-SECRET-KEY-1" + v.s(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
        "telegram": f"{v.s(10, '0123456789')}:AA{v.s(33, URL)}",
        "discord-webhook": f"https://discord.com/api/webhooks/{v.s(19, '0123456789')}/{v.s(68, URL)}",
        "discord-bot": base64.b64encode(v.s(18, "0123456789").encode()).decode().rstrip("=") + f".{v.s(6, URL)}.{v.s(38, URL)}",
        "perplexity": "pplx-" + v.s(48), "prefect": "pnu_" + v.s(36), "readme": "rdme_" + v.s(70, "abcdefghijklmnopqrstuvwxyz0123456789"),
        "scalingo": "tk-us-" + v.s(48, URL), "sendinblue": f"xkeysib-{v.s(64, HEX)}-{v.s(16)}",
        "shippo": "shippo_live_" + v.s(40, HEX), "typeform": "tfp_" + v.s(59, URL),
        "easypost": "EZAK" + v.s(54), "flutterwave": "FLWSECK_TEST-" + v.s(32, "abcdefgh0123456789") + "-X",
        "flyio": "fo1_" + v.s(43, URL), "frameio": "fio-u-" + v.s(64, URL), "infracost": "ico-" + v.s(32),
        "maxmind": f"{v.s(6)}_{v.s(29)}_mmk", "openshift": "sha256~" + v.s(43, URL), "settlemint": "sm_pat_" + v.s(16),
        "duffel": "duffel_live_" + v.s(43, URL), "adobe-secret": "p8e-" + v.s(32, AN), "artifactory": "AKCp" + v.s(69),
        "clickhouse": "4b1d" + v.s(38), "harness": f"pat.{v.s(22, URL)}.{v.s(24)}.{v.s(20)}",
        "square": "EAAA" + v.s(60, URL), "square-secret": "sq0csp-" + v.s(43, URL),
        "1password-sa": "ops_eyJ" + v.b64(240).replace("=", ""),
        "1password-secret-key": f"A3-{v.s(6, AN.upper()[26:])}-{v.s(11, AN.upper()[26:])}-{v.s(5, AN.upper()[26:])}-{v.s(5, AN.upper()[26:])}-{v.s(5, AN.upper()[26:])}",
        "mailgun": "key-" + v.s(32, HEX), "mailchimp": v.s(32, HEX) + "-us14",
        "teams-webhook": f"https://acme.webhook.office.com/webhookb2/{v.uuid()}@{v.uuid()}/IncomingWebhook/{v.s(32, HEX)}/{v.uuid()}",
        "aws-id": "AKIA" + v.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "aws-secret": v.s(40, AN + "/+"),
        "aws-sts-id": "ASIA" + v.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "aws-session": v.b64(300),
        "azure-ad": v.s(3) + "8Q~" + v.s(34, AN + "_~.-"), "azure-storage": v.b64(64),
        "azure-sas-sig": quote(v.b64(32), safe=""), "jwt": v.jwt(),
        "cloudflare-token": v.s(40, URL), "cloudflare-global": v.s(37, HEX), "cloudflare-origin": f"v1.0-{v.s(24, HEX)}-{v.s(146, HEX)}",
        "datadog-api": v.s(32, HEX), "datadog-app": v.s(40, HEX), "newrelic-license": v.s(36, HEX) + "NRAL",
        "sentry-key": v.s(32, HEX), "twilio-auth": v.s(32, HEX), "heroku-legacy": v.uuid(),
        "grafana-legacy": base64.b64encode(json.dumps({"k": v.s(32), "n": "deploy", "id": 1}, separators=(",", ":")).encode()).decode(),
    }


def credential_files(c: Case, v: V, t: dict[str, str]) -> None:
    """Package-manager, cloud and VCS credential files at their home paths."""
    npm_legacy = v.uuid()
    c.file("/root/.npmrc", f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={t['npm']}\n"
           f"//npm.corp.internal/:_authToken={npm_legacy}\nalways-auth=true\n", ("npm", t["npm"]), ("npmrc-legacy", npm_legacy))
    pypi_pw = v.pw(18)
    c.file("/root/.pypirc", f"[distutils]\nindex-servers =\n    pypi\n    private\n\n[pypi]\nusername = __token__\n"
           f"password = {t['pypi']}\n\n[private]\nrepository = https://pypi.corp.internal/\nusername = ci\npassword = {pypi_pw}\n",
           ("pypi", t["pypi"]), ("pypirc-password", pypi_pw))
    netrc_pw = v.s(20)
    c.file("/home/app/.netrc", f"machine api.heroku.com\n  login ops@acme.io\n  password {t['heroku-legacy']}\n"
           f"machine git.corp.internal login ci password {netrc_pw}\n", ("heroku-netrc", t["heroku-legacy"]), ("netrc", netrc_pw))
    gc_pw = v.s(24)
    c.file("/root/.git-credentials", f"https://x-access-token:{t['github-app']}@github.com\nhttps://deploy:{gc_pw}@git.corp.internal\n",
           ("github-app", t["github-app"]), ("git-credentials", gc_pw))
    auth = base64.b64encode(f"ci-bot:{v.s(24)}".encode()).decode()
    c.file("/root/.docker/config.json", json.dumps({"auths": {"registry.corp.internal": {"auth": auth},
           "https://index.docker.io/v1/": {"auth": base64.b64encode(f"acme:{t['dockerhub']}".encode()).decode()}}}, indent="\t"),
           ("docker-auth", auth), ("docker-auth-hub", None))
    c.file("/root/.aws/credentials", f"[default]\naws_access_key_id = {t['aws-id']}\naws_secret_access_key = {t['aws-secret']}\n\n"
           f"[sts]\naws_access_key_id={t['aws-sts-id']}\naws_secret_access_key={v.s(40, AN + '/+')}\naws_session_token={t['aws-session']}\n",
           ("aws-id", t["aws-id"]), ("aws-secret", t["aws-secret"]), ("aws-sts-id", t["aws-sts-id"]), ("aws-secret-2", None))
    k = keys_cache(v)
    kube_key = base64.b64encode(k["ec-sec1"]).decode()
    kube_tok = f"{v.s(6, HEX)}.{v.s(16, HEX)}"
    c.file("/root/.kube/config", f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: prod\n"
           f"users:\n- name: admin\n  user:\n    client-key-data: {kube_key}\n- name: boot\n  user:\n    token: {kube_tok}\n",
           ("kubeconfig-key", kube_key), ("kubeconfig-token", kube_tok))
    c.file("/root/.config/gh/hosts.yml", f"github.com:\n    user: ci-bot\n    oauth_token: {t['github-oauth']}\n    git_protocol: https\n",
           ("github-oauth", t["github-oauth"]))
    c.file("/root/.vault-token", t["vault-legacy"], ("vault-legacy", t["vault-legacy"]))
    c.file("/root/.config/hub", f"github.com:\n- user: ci\n  oauth_token: {t['github-user-to-server']}\n  protocol: https\n",
           ("github-u2s", t["github-user-to-server"]))
    sa = {"type": "service_account", "project_id": "acme-prod-311", "private_key_id": v.s(40, HEX),
          "private_key": k["pkcs8"].decode(), "client_email": "deployer@acme-prod-311.iam.gserviceaccount.com",
          "client_id": v.s(21, "0123456789"), "token_uri": "https://oauth2.googleapis.com/token"}
    c.file("/app/gcp-key.json", json.dumps(sa, indent=2), ("gcp-sa", None))
    c.file("/root/.composer/auth.json", json.dumps({"github-oauth": {"github.com": t["github-classic"]},
           "http-basic": {"repo.packagist.com": {"username": "token", "password": v.s(32, HEX)}}}, indent=4),
           ("github-classic", t["github-classic"]), ("composer-http-basic", None))
    gem_key = "rubygems_" + v.s(48, HEX)
    c.file("/root/.gem/credentials", f"---\n:rubygems_api_key: {gem_key}\n", ("rubygems", gem_key))
    c.file("/root/.config/pip/pip.conf", f"[global]\nindex-url = https://ci:{v.s(20)}@pypi.corp.internal/simple\n", ("pip-url", None))
    c.file("/root/.m2/settings.xml", f"<settings>\n  <servers>\n    <server>\n      <id>corp</id>\n      <username>deploy</username>\n"
           f"      <password>{(m2 := v.pw(20))}</password>\n    </server>\n  </servers>\n</settings>\n", ("maven-password", m2))
    nuget = v.pw(20)
    c.file("/root/.nuget/NuGet/NuGet.Config", f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSourceCredentials>\n'
           f'    <corp>\n      <add key="Username" value="ci" />\n      <add key="ClearTextPassword" value="{nuget}" />\n'
           f'    </corp>\n  </packageSourceCredentials>\n</configuration>\n', ("nuget-password", nuget))
    c.deleted += ["/root/.aws/credentials", "/root/.npmrc"]


_KEYS: dict[int, dict[str, bytes]] = {}


def keys_cache(v: V) -> dict[str, bytes]:
    if not _KEYS:
        _KEYS[0] = keys()
    return _KEYS[0]


def key_files(c: Case, v: V) -> None:
    """Private keys in every form and place, and their public halves as decoys."""
    k = keys_cache(v)
    for name, path in (("rsa-pkcs1", "/etc/ssl/private/server.key"), ("pkcs8", "/app/certs/tls.key"),
                       ("ec-sec1", "/etc/nginx/certs/ec.pem"), ("ed25519-pkcs8", "/opt/signing/ed25519.pem"),
                       ("pkcs8-encrypted", "/app/keys/enc.pem"), ("rsa-pkcs1-encrypted", "/srv/legacy.key"),
                       ("dsa", "/etc/ssh/dsa.pem"), ("openssh-ed25519", "/root/.ssh/id_ed25519"),
                       ("openssh-rsa", "/home/app/.ssh/id_rsa"), ("openssh-ecdsa", "/home/app/.ssh/deploy_key"),
                       ("openssh-encrypted", "/root/.ssh/id_enc"), ("pgp", "/root/signing-key.asc")):
        c.file(path, k[name], (f"key-{name}", None))
    for name, path in (("der", "/app/keys/server.der"), ("pkcs12", "/app/keys/bundle.p12"), ("jks", "/opt/app/keystore.jks")):
        c.file(path, k[name], (f"key-{name}", None))
    pem = k["rsa-pkcs1"].decode()
    c.file("/app/src/signer.py", '"""Sign webhooks."""\nimport jwt\n\nPRIVATE_KEY = """' + pem + '"""\n\n'
           "def sign(payload):\n    return jwt.encode(payload, PRIVATE_KEY, algorithm='RS256')\n", ("key-in-python", None))
    esc = k["pkcs8"].decode().replace("\n", "\\n")
    c.file("/app/src/config.js", f'module.exports = {{\n  port: 8080,\n  jwtKey: "{esc}",\n}};\n', ("key-in-js", None))
    lines = k["ec-sec1"].decode().splitlines()
    java = " +\n".join(f'        "{ln}\\n"' for ln in lines)
    c.file("/app/src/main/java/Keys.java", f"class Keys {{\n    static final String KEY =\n{java};\n}}\n", ("key-in-java", None))
    c.file("/app/src/keys.go", f"package keys\n\nconst signingKey = `{k['openssh-ed25519'].decode()}`\n", ("key-in-go", None))
    c.file("/app/k8s/tls-secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\ndata:\n"
           f"  tls.crt: {base64.b64encode(k['cert']).decode()}\n  tls.key: {base64.b64encode(k['pkcs8']).decode()}\n", ("key-b64-k8s", None))
    c.decoy("/app/certs/tls.crt", k["cert"])
    c.decoy("/app/certs/tls.pub", k["public"])
    c.decoy("/root/.ssh/id_ed25519.pub", k["openssh-ed25519.pub"])
    c.decoy("/root/.ssh/authorized_keys", k["openssh-rsa.pub"] + k["openssh-ecdsa.pub"])
    c.decoy("/etc/apt/trusted.gpg.d/corp.asc", k["pgp-public"])
    c.decoy("/usr/share/keyrings/corp-archive-keyring.gpg", k["pgp-public-bin"])
    c.decoy("/opt/java/lib/security/cacerts", k["jks-truststore"])
    c.decoy("/app/src/pem.py", 'BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\nEND = "-----END RSA PRIVATE KEY-----"\n'
            'def is_key(text):\n    return text.startswith(BEGIN)\n')
    c.decoy("/app/docs/KEYS.txt", "Put your key here:\n-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n")
    c.deleted += ["/etc/ssl/private/server.key", "/root/.ssh/id_ed25519"]
