"""The outside evaluation's second round, held out while the first round's gaps were fixed: other
syntaxes for the same secrets (compose lists, libpq strings, code assignments, Terraform state,
WireGuard, a persisted git extraheader) and other decoys (encrypted values, translations, ARNs,
package caches)."""

from __future__ import annotations

import base64
import json

from eval_cases import Case, keys_cache
from eval_values import AN, HEX, V

from tests.inspect.wide_files import _tar as _tgz


def round2(c: Case, v: V, t: dict[str, str]) -> None:
    k = keys_cache(v)
    a, b, d, e, f, g, h = (v.s(16) for _ in range(7))
    c.file("/app/docker-compose.yml", f"services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_PASSWORD={a}\n"
           f"      - POSTGRES_USER=app\n  cache:\n    environment:\n      REDIS_PASSWORD: \"{b}\"\n", ("compose-list", a), ("compose-map", b))
    c.file("/usr/local/bin/entrypoint.sh", f'#!/bin/sh\nexport DB_PASS="{d}"\npsql "host=db user=app password={e} dbname=app" -c "select 1"\n'
           f"exec app --ldap-bind-pw={f}\n", ("sh-export", d), ("libpq-conninfo", e), ("sh-flag-pw", f))
    c.file("/app/settings.py", f"SECRET_KEY = 'django-insecure-{(dj := v.s(50, 'abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)'))}'\n"
           f"DATABASES = {{'default': {{'PASSWORD': '{g}'}}}}\n", ("django-secret", dj), ("py-dict-password", g))
    c.file("/app/main.go", f'package main\n\nfunc main() {{\n\tpassword := "{h}"\n\tapiKey := "{(gk := v.s(32))}"\n}}\n',
           ("go-short-assign", h), ("go-apikey", gk))
    c.file("/app/config.php", f"<?php\nreturn [\n    'db' => ['password' => '{(pp := v.pw(14))}'],\n    'mail_secret' => \"{(ms := v.s(24))}\",\n];\n",
           ("php-array", pp), ("php-array-secret", ms))
    c.file("/app/gradle.properties", f"ossrhPassword={(op := v.s(18))}\nsigning.password={(sp := v.s(18))}\n", ("gradle-ossrh", op), ("gradle-signing", sp))
    c.file("/etc/wireguard/wg0.conf", f"[Interface]\nPrivateKey = {(wg := v.b64(32))}\nAddress = 10.0.0.2/32\n\n[Peer]\n"
           f"PublicKey = {v.b64(32)}\nPresharedKey = {(psk := v.b64(32))}\nEndpoint = vpn.corp.internal:51820\n", ("wireguard-private", wg), ("wireguard-psk", psk))
    c.file("/app/terraform.tfstate", json.dumps({"version": 4, "resources": [{"type": "aws_db_instance", "instances": [
           {"attributes": {"username": "admin", "password": (ts := v.s(20))}}]}]}, indent=2), ("tfstate-password", ts))
    ghs = v.crc_token("ghs_")
    c.file("/app/.git/config", "[core]\n\tbare = false\n[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic "
           f"{base64.b64encode(f'x-access-token:{ghs}'.encode()).decode()}\n", ("git-extraheader", None))
    c.file("/root/.sentryclirc", f"[auth]\ntoken={(st := v.s(64, HEX))}\n", ("sentryclirc-hex", st))
    c.file("/root/.my.cnf", f"[client]\nuser=root\npassword={(mc := v.s(16))}\n", ("my-cnf", mc))
    c.file("/root/.s3cfg", f"[default]\naccess_key = {t['aws-id']}\nsecret_key = {(s3 := v.s(40, AN + '/+'))}\n", ("s3cfg", s3), ("s3cfg-id", t["aws-id"]))
    c.file("/var/run/secrets/kubernetes.io/serviceaccount/token", v.jwt({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:app"}),
           ("k8s-sa-token", None))
    c.file("/root/.config/gcloud/application_default_credentials.json", json.dumps({"type": "authorized_user", "client_id": "7640.apps.googleusercontent.com",
           "client_secret": (gs := "GOCSPX-" + v.s(28)), "refresh_token": (rt := "1//0" + v.s(100, AN + "_-"))}, indent=2),
           ("gcloud-refresh", rt), ("gcloud-client-secret", gs))
    c.file("/app/src/windows.pem", k["pkcs8"].replace(b"\n", b"\r\n"), ("key-crlf", None))
    c.file("/app/config/cert-and-key.json", json.dumps({"cert": k["cert"].decode(), "key": k["rsa-pkcs1"].decode()}), ("key-in-json", None))
    c.file("/app/.yarnrc.yml", f'npmRegistryServer: "https://npm.corp.internal"\nnpmAuthToken: "{t["npm"]}"\n', ("yarnrc", t["npm"]))
    c.file("/app/.github/workflows/ci.yml", f"env:\n  SONAR_TOKEN: {(sq := 'sqp_' + v.s(40, HEX))}\n  CODECOV_TOKEN: {v.uuid()}\n", ("sonar-token", sq), ("codecov-uuid", None))
    c.env += [("LDAP_BIND_PW", v.s(16), "env-pw-suffix"), ("SSH_PRIVATE_KEY", k["openssh-ed25519"].decode(), "env-ssh-key"),
              ("RABBITMQ_DEFAULT_PASS", v.s(16), "env-rabbit"), ("VAULT_SECRET_ID", v.uuid(), None)]
    c.decoy("/app/secrets.enc.yaml", f"db:\n    password: ENC[AES256_GCM,data:{v.b64(18)},iv:{v.b64(32)},tag:{v.b64(16)},type:str]\n"
            f"sops:\n    mac: ENC[AES256_GCM,data:{v.b64(48)},iv:{v.b64(32)},tag:{v.b64(16)},type:str]\n")
    c.decoy("/app/k8s/sealed.yaml", f"kind: SealedSecret\nspec:\n  encryptedData:\n    password: Ag{v.b64(300)}\n")
    c.decoy("/app/.travis.yml", f"env:\n  global:\n    - secure: \"{v.b64(256)}\"\n")
    c.decoy("/app/locales/es.json", json.dumps({"password": "Contraseña", "secret": "Secreto", "token": "Ficha", "api_key": "Clave"}))
    c.decoy("/app/locales/de.json", json.dumps({"password": "Kennwort", "passwordConfirm": "Kennwortbestätigung"}))
    c.decoy("/app/config/aws.yml", "db_secret: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf\n"
            "kms_key: arn:aws:kms:us-east-1:123456789012:key/" + v.uuid() + "\n")
    c.decoy("/app/openapi.json", json.dumps({"components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
            "schemas": {"Login": {"properties": {"password": {"type": "string", "format": "password"}}}}}))
    c.decoy("/app/.github/workflows/deploy.yml", "env:\n  TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n  PASSWORD: '{{ vault_db_password }}'\n")
    c.decoy("/app/config/auth.yml", f"password_hash: $argon2id$v=19$m=65536,t=3,p=4${v.b64(16)}${v.b64(32)}\nbcrypt_rounds: 12\n"
            "token_expiry: 3600\nsecret_name: db-credentials\npassword_file: /run/secrets/db\n")
    c.decoy("/root/.npm/_cacache/content-v2/sha512/ab/cd/" + v.s(124, HEX), _tgz({"package/test/fixtures/priv.pem": k["rsa-pkcs1"],
            "package/test/keys.js": ("var k = '" + k["pkcs8"].decode().replace("\n", "\\n") + "';\n").encode()}))
    c.decoy("/root/.cache/pip/http-v2/a/b/c/" + v.s(40, HEX), b"HTTP/1.1 200\r\n\r\n" + k["ec-sec1"])
    c.decoy("/etc/nginx/dhparam.pem", b"-----BEGIN DH PARAMETERS-----\n" + base64.encodebytes(v.r.randbytes(264)) + b"-----END DH PARAMETERS-----\n")
    c.decoy("/app/config/android.json", json.dumps({"client": [{"oauth_client": [{"client_id": "7640-abc.apps.googleusercontent.com",
            "client_type": 3}], "api_key": [{"current_key": "AIzaSy" + "A" * 33}]}]}))
