"""The wide corpus's files: private keys in every container format, SaaS tokens where code and
config keep them, and the credential files of package managers, clouds, databases and servers.

Each generator yields (family, path, stored bytes, text the line is counted in, anchor): the line
reported must be the anchor's line in that text (the archive member's text for archived files);
anchor None means a binary file, matched by path alone.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import importlib.util
import io
import json
import marshal
import string
import struct
import tarfile
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .shapes import Shapes
from .values import pgp_block, putty

P = serialization.PrivateFormat
NOENC = serialization.NoEncryption()


def _pem(key, fmt, enc=NOENC) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode().strip()


def _tar(members: dict[str, bytes], gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1767225600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _cert(key) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.corpus.test")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(datetime.datetime(2026, 1, 1))
            .not_valid_after(datetime.datetime(2036, 1, 1)).sign(key, hashes.SHA256()))


def _b64int(n: int) -> str:
    return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()


def _xml_rsa(key) -> str:
    n = key.private_numbers()
    pub = n.public_numbers
    parts = {"Modulus": pub.n, "Exponent": pub.e, "P": n.p, "Q": n.q, "DP": n.dmp1, "DQ": n.dmq1, "InverseQ": n.iqmp, "D": n.d}
    return "<RSAKeyValue>" + "".join(f"<{k}>{_b64int(v)}</{k}>" for k, v in parts.items()) + "</RSAKeyValue>"


def _jks(sh: Shapes, cert_der: bytes) -> bytes:
    """A Java KeyStore holding one PrivateKeyEntry (the key bytes are random: the format is the point)."""
    alias = b"server"
    protected = bytes.fromhex("3082") + struct.pack(">H", 1200) + sh.g.r.randbytes(1200)
    out = b"\xfe\xed\xfe\xed" + struct.pack(">II", 2, 1) + struct.pack(">I", 1)
    out += struct.pack(">H", len(alias)) + alias + struct.pack(">Q", 1767225600000)
    out += struct.pack(">I", len(protected)) + protected + struct.pack(">I", 1)
    out += struct.pack(">H", 5) + b"X.509" + struct.pack(">I", len(cert_der)) + cert_der
    return out + sh.g.r.randbytes(20)


def _pyc(source: str) -> bytes:
    return importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(compile(source, "settings.py", "exec"))


def _ssh2(sh: Shapes) -> str:
    body = base64.b64encode(b"\x3f\x6f\xf9\xeb" + sh.g.r.randbytes(700)).decode()
    lines = "\n".join(body[i:i + 70] for i in range(0, len(body), 70))
    return f"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"2048-bit rsa, deploy@corpus\"\n{lines}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----"


def key_plants(sh: Shapes):
    """Private keys: every PEM flavour, encrypted ones, keys in JSON/YAML/.env, base64-wrapped,
    binary containers (DER, PKCS#12, JKS), .NET XML, GnuPG, OpenVPN, and keys inside archives."""
    rsa_key, ec_key, ed_key = rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()
    enc = serialization.BestAvailableEncryption(b"corpus-passphrase")
    crlf = _pem(rsa_key, P.TraditionalOpenSSL).replace("\n", "\r\n")
    yield "private-key", "/srv/tls/server.key", (crlf + "\r\n").encode(), crlf, "-----BEGIN"
    trad_enc = _pem(rsa_key, P.TraditionalOpenSSL, enc)
    yield "private-key", "/srv/tls/legacy.pem", trad_enc.encode(), trad_enc, "-----BEGIN"
    ed8 = _pem(ed_key, P.PKCS8)
    yield "private-key", "/app/keys/signing-ed25519.pem", ed8.encode(), ed8, "-----BEGIN"
    ossh_enc = _pem(ec_key, P.OpenSSH, enc)
    yield "ssh-key", "/home/deploy/.ssh/id_ecdsa", ossh_enc.encode(), ossh_enc, "-----BEGIN"
    ossh = _pem(rsa_key, P.OpenSSH)
    yield "ssh-key", "/etc/ssh/ssh_host_rsa_key", ossh.encode(), ossh, "-----BEGIN"
    text = json.dumps({"issuer": "corpus", "signing_key": _pem(ec_key, P.TraditionalOpenSSL) + "\n"}, indent=2)
    yield "private-key", "/app/config/jwt-signing.json", text.encode(), text, "-----BEGIN"
    text = "APP_ENV=prod\nJWT_PRIVATE_KEY=\"" + _pem(ec_key, P.PKCS8).replace("\n", "\\n") + "\"\n"
    yield "private-key", "/app/.env.production", text.encode(), text, "-----BEGIN"
    indented = "\n".join("    " + ln for ln in _pem(rsa_key, P.PKCS8).splitlines())
    text = f"ingress:\n  tls:\n    enabled: true\n  key: |\n{indented}\n"
    yield "private-key", "/app/helm/values.yaml", text.encode(), text, "-----BEGIN"
    b64 = base64.b64encode((_pem(ec_key, P.TraditionalOpenSSL) + "\n").encode()).decode()
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {base64.b64encode(b'-----BEGIN CERTIFICATE-----').decode()}\n  tls.key: {b64}\n"
    yield "private-key", "/app/k8s/tls-secret.yaml", text.encode(), text, b64
    text = f"SIGNING_KEY_B64={base64.b64encode(ed8.encode()).decode()}\n"
    yield "private-key", "/app/deploy/signing.env", text.encode(), text, "SIGNING_KEY_B64"
    ppk = putty(sh.g).replace("PuTTY-User-Key-File-3", "PuTTY-User-Key-File-2")
    yield "putty", "/home/deploy/keys/deploy.ppk", ppk.encode(), ppk, "PuTTY"
    ssh2 = _ssh2(sh)
    yield "private-key", "/home/deploy/keys/id_rsa_ssh2", ssh2.encode(), ssh2, "---- BEGIN"
    pgp = pgp_block(sh.g)
    yield "private-key", "/root/keys/release-signing.asc", pgp.encode(), pgp, "-----BEGIN"
    der = rsa_key.private_bytes(serialization.Encoding.DER, P.PKCS8, NOENC)
    yield "private-key", "/app/keys/signing.der", der, None, None
    yield "private-key", "/app/keys/blob.bin", ec_key.private_bytes(serialization.Encoding.DER, P.TraditionalOpenSSL, NOENC), None, None
    cert = _cert(rsa_key)
    p12 = pkcs12.serialize_key_and_certificates(b"client", rsa_key, cert, None, serialization.BestAvailableEncryption(b"changeit"))
    yield "pkcs12", "/app/certs/client.p12", p12, None, None
    yield "pkcs12", "/etc/pki/server.pfx", pkcs12.serialize_key_and_certificates(b"srv", ec_key, _cert(ec_key), None, NOENC), None, None
    yield "jks", "/opt/app/conf/keystore.jks", _jks(sh, cert.public_bytes(serialization.Encoding.DER)), None, None
    xml = f"<?xml version=\"1.0\"?>\n<configuration>\n  <signing>\n    {_xml_rsa(rsa_key)}\n  </signing>\n</configuration>\n"
    yield "private-key", "/app/web.config", xml.encode(), xml, "<RSAKeyValue>"
    d = sh.hex(64).upper()
    gpg = f"Created: 20260101T000000\nKey: (private-key (ecc (curve Ed25519)(flags eddsa)(q #40{sh.hex(64).upper()}#)(d #{d}#)))\n"
    yield "private-key", "/root/.gnupg/private-keys-v1.d/" + sh.hex(40).upper() + ".key", gpg.encode(), gpg, "Key:"
    static = "\n".join(sh.hex(32) for _ in range(16))
    ovpn = (f"client\nremote vpn.corpus.test 1194\n<key>\n{_pem(ec_key, P.PKCS8)}\n</key>\n<tls-auth>\n"
            f"-----BEGIN OpenVPN Static key V1-----\n{static}\n-----END OpenVPN Static key V1-----\n</tls-auth>\n")
    yield "private-key", "/etc/openvpn/client.ovpn", ovpn.encode(), ovpn, "-----BEGIN PRIVATE"
    yield "openvpn-static-key", "/etc/openvpn/client.ovpn", ovpn.encode(), ovpn, "-----BEGIN OpenVPN"
    home = _pem(ed_key, P.OpenSSH) + "\n"
    yield "archive", "/var/backups/home.tar.gz", _tar({"root/.ssh/id_ed25519": home.encode(), "root/.bashrc": b"alias ll='ls -l'\n"}), home, "-----BEGIN"
    pem = _pem(ec_key, P.PKCS8) + "\n"
    yield "archive", "/app/deploy/bundle.zip", _zip({"README": b"deploy bundle\n", "keys/deploy.pem": pem.encode()}), pem, "-----BEGIN"
    creds = f"[default]\naws_access_key_id = {sh.aws_id()}\naws_secret_access_key = {sh.aws_secret()}\n"
    nested = _tar({"ci.tar.gz": _tar({"home/ci/.aws/credentials": creds.encode()})}, gz=False)
    yield "archive", "/var/backups/ci.tar", nested, creds, "aws_access_key_id"
    yield "archive", "/var/backups/ci.tar", nested, creds, "aws_secret_access_key"
    yield "archive", "/var/backups/id_rsa.gz", gzip.compress((crlf + "\r\n").encode(), mtime=0), crlf, "-----BEGIN"
    props = f"spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password={sh.password(18)}\n"
    jar = _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "BOOT-INF/classes/application.properties": props.encode()})
    yield "archive", "/app/app.jar", jar, props, "spring.datasource.password"


def token_plants(sh: Shapes):
    """SaaS and cloud tokens in the files that hold them: source, config, scripts, notebooks, logs."""
    def text(family: str, path: str, body: str, secret: str):
        return family, path, body.encode(), body, secret

    v = sh.github("gho_")
    yield text("github", "/root/.config/gh/hosts.yml", f"github.com:\n    user: ci\n    oauth_token: {v}\n    git_protocol: https\n", v)
    v = sh.github("ghs_")
    yield text("github", "/app/ci/installation-token.txt", v + "\n", v)
    v = sh.github_fine()
    yield text("github", "/root/.config/composer/auth.json", json.dumps({"github-oauth": {"github.com": v}}, indent=4), v)
    v = sh.gitlab("glrt-")
    yield text("gitlab", "/etc/gitlab-runner/config.toml", f"[[runners]]\n  name = \"ci\"\n  url = \"https://gitlab.corpus.test\"\n  token = \"{v}\"\n", v)
    v = sh.gitlab_runner_registration()
    yield text("gitlab", "/app/ci/register.sh", f"gitlab-runner register --non-interactive --registration-token {v}\n", v)
    v = sh.slack_user()
    yield text("slack", "/app/src/notify.js", f"const client = new WebClient('{v}');\n", v)
    v = sh.slack_app()
    yield text("slack", "/app/slackbot/.env", f"SLACK_APP_TOKEN={v}\n", v)
    v = sh.slack_config_refresh()
    yield text("slack", "/app/slackbot/refresh.txt", v + "\n", v)
    v = sh.stripe()
    yield text("stripe", "/var/www/html/billing.php", f"<?php\n\\Stripe\\Stripe::setApiKey('{v}');\n", v)
    v = sh.stripe_webhook()
    yield text("stripe", "/app/billing/.env", f"STRIPE_WEBHOOK_SECRET={v}\n", v)
    v = sh.twilio_key()
    yield text("twilio", "/app/src/sms.js", f"const client = require('twilio')('{v}', process.env.TWILIO_SECRET);\n", v)
    v = sh.sendgrid()
    yield text("sendgrid", "/app/src/mail.py", f"import sendgrid\nsg = sendgrid.SendGridAPIClient(\"{v}\")\n", v)
    v = sh.mailgun()
    yield text("mailgun", "/app/config/initializers/mailgun.rb", f"Mailgun.configure do |config|\n  config.api_key = '{v}'\nend\n", v)
    v = sh.mailchimp()
    yield text("mailchimp", "/app/src/newsletter.py", f"client.set_config({{\"api_key\": \"{v}\", \"server\": \"us6\"}})\n", v)
    v = sh.npm()
    yield text("npm", "/app/.yarnrc.yml", f"npmRegistryServer: \"https://registry.npmjs.org\"\nnpmAuthToken: {v}\n", v)
    v = sh.pypi()
    yield text("pypi", "/app/ci/publish.env", f"TWINE_USERNAME=__token__\nTWINE_PASSWORD={v}\n", v)
    v = sh.dockerhub()
    yield text("dockerhub", "/app/ci/push.sh", f"#!/bin/sh\necho {v} | docker login -u corpus --password-stdin\n", v)
    v = sh.vault()
    yield text("vault", "/app/scripts/vault.sh", f"export VAULT_ADDR=https://vault.corpus.test\nexport VAULT_TOKEN={v}\n", v)
    v = sh.vault_legacy()
    yield text("vault", "/root/.vault-token", v, v)
    v = sh.heroku()
    yield text("heroku", "/app/ops/heroku.env", f"HEROKU_API_KEY={v}\n", v)
    v = sh.digitalocean()
    yield text("digitalocean", "/app/infra/do.tf", f"provider \"digitalocean\" {{\n  token = \"{v}\"\n}}\n", v)
    v = sh.shopify()
    yield text("shopify", "/app/lib/shop.rb", f"session = ShopifyAPI::Auth::Session.new(shop: 'corpus.myshopify.com', access_token: '{v}')\n", v)
    v = sh.openai_legacy()
    nb = json.dumps({"cells": [{"cell_type": "code", "source": ["import openai\n", f"openai.api_key = \"{v}\"\n"]}]}, indent=1)
    yield text("openai", "/app/notebooks/explore.ipynb", nb, v)
    v = sh.anthropic()
    yield text("anthropic", "/app/src/llm.py", f"client = anthropic.Anthropic(api_key=\"{v}\")\n", v)
    v = sh.huggingface()
    yield text("huggingface", "/app/scripts/download.sh", f"huggingface-cli login --token {v}\n", v)
    v = sh.google_api()
    yield text("google", "/app/static/index.html", f"<script src=\"https://maps.googleapis.com/maps/api/js?key={v}&callback=init\"></script>\n", v)
    v = sh.google_oauth_secret()
    cs = json.dumps({"installed": {"client_id": sh.s(12, string.digits) + "-abc.apps.googleusercontent.com", "client_secret": v}})
    yield text("google", "/app/client_secret.json", cs, v)
    v = sh.google_access_token()
    yield text("google", "/var/log/app/oauth.log", f"2026-01-01T00:00:00Z DEBUG got access token {v} expires_in=3599\n", v)
    v = sh.telegram()
    yield text("telegram", "/app/bot/main.py", f"import telebot\nbot = telebot.TeleBot(\"{v}\")\n", v)
    v = sh.discord_webhook()
    yield text("discord", "/app/config/alerts.yaml", f"alerts:\n  discord: {v}\n", v)
    v = sh.databricks()
    yield text("databricks", "/root/.databrickscfg", f"[DEFAULT]\nhost = https://corpus.cloud.databricks.com\ntoken = {v}\n", v)
    v = sh.atlassian()
    yield text("atlassian", "/app/jira/sync.py", f"JIRA_API_TOKEN = \"{v}\"\n", v)
    v = sh.postman()
    yield text("postman", "/app/postman/env.json", json.dumps({"key": "postman_api_key", "value": v}), v)
    v = sh.newrelic()
    yield text("newrelic", "/app/ops/newrelic.sh", f"curl -H 'Api-Key: {v}' https://api.newrelic.com/graphql\n", v)
    v = sh.sentry()
    yield text("sentry", "/app/.sentryclirc", f"[auth]\ntoken={v}\n", v)
    v = sh.grafana()
    yield text("grafana", "/app/ops/grafana.sh", f"curl -H \"Authorization: Bearer {v}\" https://grafana.corpus.test/api/dashboards\n", v)
    v = sh.linear()
    yield text("linear", "/app/src/linear.ts", f"const linear = new LinearClient({{ apiKey: \"{v}\" }});\n", v)
    v = sh.age()
    yield text("age", "/root/.config/sops/age/keys.txt", f"# created: 2026-01-01T00:00:00Z\n# public key: age1{sh.s(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}\n{v}\n", v)
    v = sh.doppler()
    yield text("doppler", "/app/entrypoint.sh", f"#!/bin/sh\nexport DOPPLER_TOKEN={v}\nexec doppler run -- node server.js\n", v)
    v = sh.pulumi()
    yield text("pulumi", "/app/infra/ci.sh", f"PULUMI_ACCESS_TOKEN={v} pulumi up --yes\n", v)
    v = sh.square()
    yield text("square", "/app/src/pay.rb", f"client = Square::Client.new(access_token: '{v}')\n", v)
    v = sh.braintree()
    yield text("braintree", "/app/src/braintree.py", f"gateway = braintree.BraintreeGateway(access_token=\"{v}\")\n", v)
    v = sh.alibaba()
    yield text("alibaba", "/app/src/oss.go", f"client, err := oss.New(endpoint, \"{v}\", secret)\n", v)
    v = sh.terraform()
    yield text("terraform", "/root/.terraform.d/credentials.tfrc.json", json.dumps({"credentials": {"app.terraform.io": {"token": v}}}, indent=2), v)
    v = sh.azure_ad_secret()
    yield text("azure", "/app/appsettings.json", json.dumps({"AzureAd": {"TenantId": sh.uuid(), "ClientId": sh.uuid(), "ClientSecret": v}}, indent=2), v)
    v = sh.azure_sas_url()
    yield text("azure", "/app/scripts/backup.sh", f"azcopy copy /data \"{v}\" --recursive\n", v)
    v = sh.jwt("none", 0)
    yield text("jwt", "/app/fixtures/session.txt", f"session={v}\n", v)
    v = sh.stripe()
    line = "!function(){" + ";".join(f"var a{i}=\"{sh.s(30)}\"" for i in range(1500)) + f";var k=\"{v}\";" + "}();\n"
    yield text("stripe", "/app/static/js/main.4f1e2d.js", line, v)
    v = sh.github()
    ps1 = f"$env:GITHUB_TOKEN = \"{v}\"\r\ngh release download\r\n"
    yield "github", "/app/scripts/release.ps1", b"\xff\xfe" + ps1.encode("utf-16-le"), ps1, v
    v = sh.stripe()
    yield "stripe", "/app/__pycache__/settings.cpython-311.pyc", _pyc(f"STRIPE_KEY = '{v}'\n"), None, None
    v = sh.aws_id()
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200 + b"aws_access_key_id\x00" + v.encode() + b"\x00" * 64
    yield "aws", "/usr/local/bin/uploader", elf, None, None
    v = sh.slack_bot()
    big = "".join(f"2026-01-01T00:00:{i % 60:02d}Z INFO request served in {i % 97} ms\n" for i in range(190_000))
    big += f"2026-01-01T01:00:00Z DEBUG slack client token={v}\n"
    yield text("slack", "/var/log/app/big.log", big, v)
    v = sh.github()   # a live-format token in a package the image's own build put there is a leak
    yield text("vendored-live-token", "/app/node_modules/@corp/deploy-config/index.js", f"module.exports = {{ token: '{v}' }};\n", v)
    v = sh.password(18)
    yield text("vendored-live-token", "/app/node_modules/.cache/babel-loader/3f2a.json", json.dumps({"env": {"DB_PASSWORD": v}}), v)
    cred = sh.github()
    yield text("git-credentials", "/var/tmp/leak/.git-credentials", f"https://ci:{cred}@github.com\n", cred)
