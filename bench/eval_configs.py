"""The outside evaluation's configuration plants (every config syntax, shell history, source
strings, encodings, image metadata) and its decoys (placeholders, package metadata, vendored test
vectors, public material)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from eval_cases import Case, keys_cache
from eval_values import AN, HEX, V


def dotenv(c: Case, v: V, t: dict[str, str]) -> None:
    pg, rd, mq, mg = v.pw(16).replace("@", "x"), v.s(24), v.s(18), v.s(20)
    enc = v.s(6) + "@#" + v.s(8)
    sentry_secret = v.s(32, HEX)
    families = ["stripe-live", "openai", "anthropic", "huggingface", "slack-bot", "sendgrid", "twilio-key", "github-fine-grained",
                "gitlab-pat", "digitalocean", "shopify", "vault-service", "heroku-v2", "google-api", "newrelic-user", "sentry-user",
                "doppler", "linear", "postman", "databricks", "planetscale", "pulumi", "age", "telegram", "mailgun", "mailchimp",
                "grafana-sa", "perplexity", "prefect", "sendinblue", "shippo", "typeform", "easypost", "flutterwave", "flyio",
                "infracost", "maxmind", "settlemint", "duffel", "readme", "scalingo", "frameio", "clickhouse", "square",
                "anthropic-admin", "huggingface-org", "gitlab-runner", "gitlab-deploy", "gitlab-ff-client", "gitlab-pat-routable",
                "slack-user", "stripe-restricted", "openai-legacy", "1password-sa", "artifactory", "adobe-secret",
                "openshift", "harness", "github-refresh"]
    lines = [f"{f.upper().replace('-', '_')}_TOKEN={t[f]}" for f in families]
    lines += [f"DATABASE_URL=postgres://app:{pg}@db.internal:5432/app", f"REDIS_URL=redis://:{rd}@cache:6379/0",
              f"AMQP_URL=amqp://worker:{mq}@rabbitmq:5672/%2f", f"MONGO_URI=mongodb+srv://svc:{mg}@cluster0.ab1cd.mongodb.net/app?retryWrites=true",
              f"MYSQL_URL=mysql://root:{quote(enc, safe='')}@mysql:3306/shop",
              f"SENTRY_DSN=https://{t['sentry-key']}:{sentry_secret}@o450123.ingest.sentry.io/5512345",
              f"DD_API_KEY={t['datadog-api']}", f"DD_APP_KEY={t['datadog-app']}", f"NEW_RELIC_LICENSE_KEY={t['newrelic-license']}",
              f"TWILIO_ACCOUNT_SID=AC{v.s(32, HEX)}", f"TWILIO_AUTH_TOKEN={t['twilio-auth']}",
              f"CLOUDFLARE_API_TOKEN={t['cloudflare-token']}", f"CF_API_KEY={t['cloudflare-global']}",
              f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={t['azure-storage']};EndpointSuffix=core.windows.net",
              f"AZURE_CLIENT_SECRET={t['azure-ad']}", f"JWT_SECRET={(js := v.s(48))}", f"SESSION_SECRET={(ss := v.pw(32))}",
              f"GRAFANA_API_KEY={t['grafana-legacy']}", f"DISCORD_BOT_TOKEN={t['discord-bot']}"]
    c.file("/app/.env", "\n".join(lines) + "\n", *[(f, t[f]) for f in families],
           ("postgres-url", pg), ("redis-url", rd), ("amqp-url", mq), ("mongodb-srv", mg), ("mysql-url-encoded", quote(enc, safe="")),
           ("sentry-dsn-secret", sentry_secret), ("datadog-api", t["datadog-api"]), ("datadog-app", t["datadog-app"]),
           ("newrelic-license", t["newrelic-license"]), ("twilio-auth", t["twilio-auth"]), ("cloudflare-token", t["cloudflare-token"]),
           ("cloudflare-global", t["cloudflare-global"]), ("azure-storage", t["azure-storage"]), ("azure-ad", t["azure-ad"]),
           ("jwt-secret", js), ("session-secret", ss), ("grafana-legacy", t["grafana-legacy"]), ("discord-bot", t["discord-bot"]))
    c.deleted.append("/app/.env")


def configs(c: Case, v: V, t: dict[str, str]) -> None:
    p1, p2, p3, p4, p5, p6, p7 = (v.pw(14) for _ in range(7))
    c.file("/app/config/config.json", json.dumps({"db": {"host": "db", "user": "app", "password": p1},
           "stripe": {"secretKey": t["stripe-webhook"]}, "auth": {"clientSecret": (cs := v.s(40, AN + "-_"))},
           "openai": {"apiKey": t["openai"]}}, indent=2), ("json-password", p1), ("stripe-webhook", t["stripe-webhook"]),
           ("json-client-secret", cs), ("openai", t["openai"]))
    c.file("/app/config/application.yml", f"spring:\n  datasource:\n    url: jdbc:postgresql://db:5432/app\n    username: app\n"
           f"    password: '{p2}'\n  mail:\n    password: \"{p3}\"\nslack:\n  webhook: {t['slack-webhook']}\n"
           f"jwt:\n  signing-key: {(jk := v.s(44, AN + '+/'))}\n", ("yaml-password", p2), ("yaml-mail-password", p3),
           ("slack-webhook", t["slack-webhook"]), ("yaml-signing-key", jk))
    c.file("/app/config/settings.toml", f'[database]\nurl = "postgresql://svc:{p4}@pg:5432/svc"\n\n[api]\ntoken = "{(tk := v.s(32))}"\n'
           f'[discord]\nwebhook = "{t["discord-webhook"]}"\n', ("toml-url", p4), ("toml-token", tk), ("discord-webhook", t["discord-webhook"]))
    c.file("/etc/app/app.ini", f"[smtp]\nhost = smtp.sendgrid.net\nuser = apikey\npass = {t['sendgrid']}\n\n[ldap]\nbind_password = {p5}\n",
           ("ini-ldap", p5), ("sendgrid", t["sendgrid"]))
    c.file("/app/WEB-INF/classes/application.properties", f"spring.datasource.password={p6}\nmail.smtp.password={p7}\n"
           f"jdbc.url=jdbc:mysql://db:3306/app?user=app&password={(jp := v.s(16))}\napp.api-key={(ak := v.s(32))}\n",
           ("properties-password", p6), ("properties-mail", p7), ("jdbc-query-password", jp), ("properties-api-key", ak))
    c.file("/var/www/html/wp-config.php", f"<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( 'DB_PASSWORD', '{(wp := v.pw(18))}' );\n"
           f"define( 'AUTH_KEY', '{(wk := v.pw(64))}' );\n", ("php-define", wp), ("wp-auth-key", wk))
    c.file("/app/appsettings.json", json.dumps({"ConnectionStrings": {"Default": f"Server=sql.internal;Database=app;User Id=sa;Password={(ms := v.s(18))};"},
           "AzureAd": {"ClientSecret": t["azure-ad"]}}, indent=2), ("mssql-conn", ms), ("azure-ad", t["azure-ad"]))
    c.file("/app/terraform.tfvars", f'db_password = "{(tf := v.s(20))}"\ndo_token = "{t["digitalocean"]}"\n', ("tfvars-password", tf), ("digitalocean", t["digitalocean"]))
    c.file("/etc/teams.json", json.dumps({"webhook": t["teams-webhook"]}), ("teams-webhook", t["teams-webhook"]))
    c.file("/app/k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
           f"  username: {base64.b64encode(b'app').decode()}\n  password: {(kb := base64.b64encode(v.s(20).encode()).decode())}\n",
           ("k8s-secret-data", kb))
    c.file("/app/src/client.py", f'import requests\nAPI_KEY = "{(pk := v.s(40))}"\nSTRIPE = "{t["stripe-live"]}"\n'
           f'headers = {{"Authorization": "Bearer {(bt := v.s(48, AN + "._-"))}"}}\n', ("py-api-key", pk), ("py-bearer", bt), ("stripe-live", t["stripe-live"]))
    c.file("/app/src/db.js", f"const pool = new Pool({{ connectionString: 'postgres://admin:{(jsp := v.s(20))}@db/app' }});\n"
           f"const mailchimp = '{t['mailchimp']}';\n", ("js-url", jsp), ("mailchimp", t["mailchimp"]))
    ghb64 = base64.b64encode(t["github-classic"].encode()).decode()
    c.file("/app/config/ci.env", f"GH_TOKEN_B64={ghb64}\nSLACK_URL_ENC={quote(t['slack-webhook'], safe='')}\n",
           ("github-b64", ghb64), ("slack-webhook-urlenc", None))
    c.file("/app/config/jwt.conf", f"token {t['jwt']}\n", ("jwt", t["jwt"]))
    c.file("/app/config/azure.txt", f"https://acme.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2027-01-01&sig={t['azure-sas-sig']}\n",
           ("azure-sas", None))
    c.deleted.append("/app/config/config.json")


BARE = ("github-classic", "github-oauth", "github-app", "github-fine-grained", "gitlab-pat", "gitlab-runner", "gitlab-deploy",
        "gitlab-ff-client", "gitlab-cicd-job", "slack-bot", "slack-user", "slack-config", "stripe-live", "stripe-restricted",
        "twilio-key", "sendgrid", "npm", "pypi", "dockerhub", "vault-service", "shopify", "openai", "openai-legacy", "anthropic",
        "anthropic-admin", "huggingface", "huggingface-org", "digitalocean", "heroku-v2", "google-api", "newrelic-user",
        "sentry-user", "grafana-sa", "grafana-cloud", "doppler", "pulumi", "postman", "linear", "atlassian", "databricks",
        "planetscale", "age", "telegram", "discord-bot", "perplexity", "prefect", "readme", "scalingo", "sendinblue", "shippo",
        "typeform", "easypost", "flutterwave", "flyio", "frameio", "infracost", "maxmind", "openshift", "settlemint", "duffel",
        "adobe-secret", "artifactory", "clickhouse", "harness", "square", "square-secret", "1password-sa", "1password-secret-key",
        "aws-id", "azure-ad", "jwt", "grafana-legacy", "teams-webhook", "discord-webhook", "slack-webhook")


def bare_tokens(c: Case, v: V, t: dict[str, str]) -> None:
    """Each token with no key naming it: only its shape can find it (a call argument in source)."""
    c.file("/app/src/clients.py", "".join(f'clients.add("{i}", "{t[f]}")\n' for i, f in enumerate(BARE)),
           *[(f"bare-{f}", t[f]) for f in BARE])


def history(c: Case, v: V, t: dict[str, str]) -> None:
    my, dk = v.s(14), v.s(16)
    c.file("/root/.bash_history", f"ls -la\nexport AWS_SECRET_ACCESS_KEY={(a := v.s(40, AN + '/+'))}\nmysql -u root -p{my} shop\n"
           f"curl -H 'Authorization: Bearer {(b := v.s(40))}' https://api.corp.internal/v1/me\n"
           f"git clone https://oauth2:{t['gitlab-pat']}@gitlab.com/acme/app.git\ndocker login -u acme -p {dk} registry.corp.internal\n"
           f"export GITHUB_TOKEN={t['github-classic']}\nPGPASSWORD={(pgp := v.s(16))} psql -h db -U app\n"
           f"curl -u admin:{(cu := v.s(18))} https://jenkins.internal/api/json\nhelm repo add corp https://charts.internal --username ci --password {(hp := v.s(18))}\n",
           ("history-aws", a), ("history-mysql", my), ("history-bearer", b), ("history-gitlab-url", t["gitlab-pat"]),
           ("history-docker-login", dk), ("history-github", t["github-classic"]), ("history-pgpassword", pgp),
           ("history-curl-u", cu), ("history-helm", hp))
    c.file("/root/.python_history", f"import openai\nopenai.api_key = '{t['openai-legacy']}'\n", ("python-history-openai", t["openai-legacy"]))
    c.deleted.append("/root/.bash_history")


def metadata(c: Case, v: V, t: dict[str, str]) -> None:
    c.env += [("POSTGRES_PASSWORD", v.s(16), "env-postgres"), ("GITHUB_TOKEN", t["github-classic"], "env-github"),
              ("ANTHROPIC_API_KEY", t["anthropic"], "env-anthropic"), ("HF_TOKEN", t["huggingface"], "env-hf"),
              ("DATADOG_API_KEY", t["datadog-api"], "env-datadog"), ("SENTRY_DSN", f"https://{t['sentry-key']}@o12345.ingest.sentry.io/678", None),
              ("GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", None), ("PYTHON_SHA256", v.s(64, HEX), None),
              ("NODE_VERSION", "20.11.1", None), ("API_URL", "https://api.corp.internal", None), ("DB_PASSWORD_FILE", "/run/secrets/db", None),
              ("JAVA_TOOL_OPTIONS", f"-Djavax.net.ssl.trustStorePassword=changeit -Ddb.password={(jp := v.s(14))}", "env-java-opts")]
    c.labels += [("org.opencontainers.image.source", "https://github.com/acme/app", None),
                 ("deploy.token", t["gitlab-pat"], "label-gitlab"), ("ci.slack", t["slack-webhook"], "label-slack"),
                 ("org.opencontainers.image.revision", v.s(40, HEX), None)]
    c.args += [("NPM_TOKEN", t["npm"], "arg-npm"), ("PIP_INDEX_URL", f"https://ci:{(pi := v.s(20))}@pypi.corp.internal/simple", "arg-pip-url"),
               ("BUILD_VERSION", "1.4.2", None), ("AWS_SECRET_ACCESS_KEY", v.s(40, AN + "/+"), "arg-aws")]


def decoys(c: Case, v: V) -> None:
    k = keys_cache(v)
    c.decoy("/app/config/placeholders.yml", "db:\n  password: ${DB_PASSWORD}\n  token: \"<your-token-here>\"\napi_key: xxxxxxxxxxxxxxxxxxxx\n"
            "secret: changeme\nstripe_key: sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nslack: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
            "github_token: ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nopenai_key: sk-...\naws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
            "aws_access_key_id: AKIAIOSFODNN7EXAMPLE\npassword2: '{{ .Values.db.password }}'\nclient_secret: %CLIENT_SECRET%\n")
    c.decoy("/app/.env.production", "DB_PASSWORD=${DB_PASSWORD:?required}\nAPI_KEY=$API_KEY\nSECRET_KEY=\nJWT_SECRET=changeme\n"
            "REDIS_URL=redis://redis:6379/0\nDATABASE_URL=postgres://user:password@localhost:5432/db\nTOKEN=<TOKEN>\n"
            "GITHUB_TOKEN=your_github_token_here\nSTRIPE_KEY=sk_test_placeholder_placeholder\n")
    c.decoy("/var/lib/dpkg/info/libssl3.md5sums", "".join(f"{v.s(32, HEX)}  usr/lib/x86_64-linux-gnu/lib{n}.so.3\n" for n in ("ssl", "crypto")))
    c.decoy("/var/lib/dpkg/status", "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1\nSHA256: " + v.s(64, HEX) + "\n")
    c.decoy("/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/RECORD",
            "".join(f"requests/{n}.py,sha256={base64.urlsafe_b64encode(v.r.randbytes(32)).decode().rstrip('=')},{v.r.randint(100, 9999)}\n"
                    for n in ("api", "auth", "sessions")))
    c.decoy("/app/package.json", json.dumps({"name": "app", "version": "1.0.0", "dependencies": {"jsonwebtoken": "^9.0.0"},
            "_integrity": "sha512-" + v.b64(64), "_resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"}, indent=2))
    c.decoy("/lib/apk/db/installed", "".join(f"P:pkg{i}\nV:1.{i}\nC:Q1{v.b64(20)}\nZ:Q1{v.b64(20)}\n\n" for i in range(4)))
    c.decoy("/app/public/index.html", f'<script src="/app.js" integrity="sha384-{v.b64(48)}" crossorigin="anonymous"></script>\n'
            f'<meta name="csrf-token" content="{v.s(40)}">\n')
    c.decoy("/app/src/hashing.py", f'EMPTY_SHA256 = "{v.s(64, HEX)}"\nBCRYPT = "$2b$12${v.s(53, AN + "./")}"\n'
            f'REQUEST_ID = "{v.uuid()}"\ntoken = os.environ["API_TOKEN"]\npassword = settings.DB_PASSWORD\n')
    c.decoy("/etc/ssl/certs/ca-certificates.crt", k["cert"] * 3)
    c.decoy("/usr/share/doc/openssl/examples/key.pem", k["rsa-pkcs1"])
    c.decoy("/usr/local/lib/node_modules/npm/node_modules/agent-base/test/ssl-key.pem", k["pkcs8"])
    c.decoy("/go/pkg/mod/golang.org/x/crypto@v0.17.0/ssh/keys_test.go",
            "package ssh\n\nconst testKey = `" + k["openssh-rsa"].decode() + "`\n")
    c.decoy("/root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/rustls-0.21.7/tests/data/key.pem", k["ec-sec1"])
    c.decoy("/usr/local/bundle/gems/net-ssh-7.2.0/test/test_key_factory.rb", "KEY = <<~EOF\n" + k["rsa-pkcs1"].decode() + "EOF\n")
    c.decoy("/usr/share/nodejs/node-forge/tests/unit/rsa.js", "var privateKeyPem = '" + k["rsa-pkcs1"].decode().replace("\n", "\\n") + "';\n")
    c.decoy("/usr/lib/ruby/vendor_ruby/rack/session.rb", f"SECRET = '{v.s(64, HEX)}'\n")
    c.decoy("/app/README.txt", "Set STRIPE_KEY to your key, e.g. STRIPE_KEY=sk_live_... and PASSWORD=<password>.\n")
    c.decoy("/app/static/app.min.js", "var a=" + json.dumps({"k": v.s(40), "password": v.s(20)}) + ";" * 500 + "\n")
    c.decoy("/app/static/logo.txt", "data:image/png;base64," + v.b64(600) + "\n")
    c.decoy("/etc/ssh/ssh_config", "Host *\n    SendEnv LANG LC_*\n    HashKnownHosts yes\n    GSSAPIAuthentication yes\n")
    c.decoy("/app/go.sum", "".join(f"github.com/x/y{i} v1.{i}.0 h1:{v.b64(32)}\n" for i in range(5)))
    c.decoy("/app/yarn.lock", f'jsonwebtoken@^9.0.0:\n  version "9.0.2"\n  integrity sha512-{v.b64(64)}\n')
    c.decoy("/app/tests/test_auth.py", 'def test_rejects_bad_password():\n    assert not login("admin", "wrong")\n'
            f'SAMPLE_UUID = "{v.uuid()}"\n')
    c.decoy("/app/config/feature.yml", f"features:\n  key_id: {v.uuid()}\n  token_endpoint: https://auth.internal/oauth/token\n"
            f"  max_tokens: 4096\n  public_key: {v.b64(32)}\n  password_min_length: 12\n  cache_key: users:{v.s(8, HEX)}\n")
    c.decoy("/app/config/jwks.json", json.dumps({"keys": [{"kty": "RSA", "kid": v.s(16), "n": v.b64(256).rstrip("="), "e": "AQAB"}]}))
    c.decoy("/app/config/git-sha.txt", f"commit {v.s(40, HEX)}\nbuild_id={v.uuid()}\n")
