"""The wide corpus's credential-bearing configuration: clouds, package managers, databases, web
frameworks and servers, each in the file and syntax the tool itself reads."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .shapes import Shapes


def config_plants(sh: Shapes):
    """(family, path, bytes, text, anchor) for credential files and config syntaxes."""
    def text(family: str, path: str, body: str, secret: str, crlf: bool = False):
        if crlf:
            body = body.replace("\n", "\r\n")
        return family, path, body.encode(), body, secret

    aid, sec, tok = sh.aws_id("ASIA"), sh.aws_secret(), sh.aws_session()
    creds = f"[default]\naws_access_key_id={aid}\naws_secret_access_key={sec}\naws_session_token={tok}\n"
    yield text("aws", "/root/.aws/credentials", creds, aid)
    yield text("aws", "/root/.aws/credentials", creds, sec)
    yield text("aws", "/root/.aws/credentials", creds, tok)
    v = sh.aws_secret()
    yield text("aws", "/app/docker-compose.yml", f"services:\n  app:\n    environment:\n      - AWS_SECRET_ACCESS_KEY={v}\n", v)
    aid, v = sh.aws_id(), sh.aws_secret()
    src = f"s3 = boto3.client(\"s3\", aws_access_key_id=\"{aid}\",\n                  aws_secret_access_key=\"{v}\")\n"
    yield text("aws", "/app/src/storage.py", src, aid)
    yield text("aws", "/app/src/storage.py", src, v)
    aid, v = sh.aws_id(), sh.aws_secret()
    cli = json.dumps({"AccessKey": {"UserName": "ci", "AccessKeyId": aid, "Status": "Active", "SecretAccessKey": v}}, indent=4)
    yield text("aws", "/root/ci-user-key.json", cli, aid)
    yield text("aws", "/root/ci-user-key.json", cli, v)
    v = sh.aws_secret()
    yield text("aws", "/app/infra/main.tf", f"provider \"aws\" {{\n  region     = \"eu-west-1\"\n  secret_key = \"{v}\"\n}}\n", v)
    aid, v = sh.aws_id(), sh.aws_secret()
    props = f"aws.accessKeyId={aid}\naws.secretKey={v}\n"
    yield text("aws", "/app/config/app.properties", props, aid)
    yield text("aws", "/app/config/app.properties", props, v)
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()).decode()
    sa = {"type": "service_account", "project_id": "corpus", "private_key_id": sh.hex(40), "private_key": key,
          "client_email": "ci@corpus.iam.gserviceaccount.com", "client_id": sh.s(21, "0123456789")}
    yield text("gcp", "/app/keys/sa-min.json", json.dumps(sa, separators=(",", ":")), '"private_key":"')
    b64 = base64.b64encode(json.dumps(sa, indent=2).encode()).decode()
    yield text("gcp", "/app/.env.gcp", f"GOOGLE_CREDENTIALS={b64}\n", "GOOGLE_CREDENTIALS")
    v = sh.password(16)
    yield text("database", "/app/appsettings.Production.json", json.dumps({"ConnectionStrings": {
        "Default": f"Server=tcp:sql.corpus.test,1433;Database=app;User Id=sa;Password={v};Encrypt=True;"}}, indent=2), v)
    v = base64.b64encode(sh.g.r.randbytes(64)).decode()
    yield text("azure", "/app/local.settings.json", json.dumps({"Values": {
        "AzureWebJobsStorage": f"DefaultEndpointsProtocol=https;AccountName=corpus;AccountKey={v};EndpointSuffix=core.windows.net"}}), v)
    v = base64.b64encode(f"deploy:{sh.alnum(20)}".encode()).decode()
    yield text("npm", "/root/.npmrc", f"registry=https://npm.corpus.test/\n_auth={v}\nalways-auth=true\n", v)
    v = sh.password(20)
    yield text("pypi", "/home/ci/.pypirc", f"[distutils]\nindex-servers = internal\n\n[internal]\nrepository = https://pypi.corpus.test\nusername = ci\npassword = {v}\n", v)
    v = sh.alnum(20)
    yield text("netrc", "/home/ci/.netrc", f"machine api.corpus.test\n  login ci\n  password {v}\n", v, crlf=True)
    v = sh.alnum(22)
    yield text("git-credentials", "/home/ci/.git-credentials", f"https://ci:{v}@gitlab.corpus.test\n", v)
    v = base64.b64encode(f"_json_key:{sh.alnum(30)}".encode()).decode()
    yield text("docker-config", "/home/ci/.docker/config.json", json.dumps({"auths": {"gcr.io": {"auth": v}}}, indent="\t"), v)
    v = base64.b64encode(sh.password(18).encode()).decode()
    yield text("kubernetes-secret", "/app/k8s/db-secret.yaml", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: YXBw\n  password: {v}\n", v)
    v = sh.password(18)
    yield text("kubernetes-secret", "/app/k8s/api-secret.yml", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  api-token: \"{v}\"\n", v)
    v = sh.jwt()
    yield text("kubeconfig", "/root/.kube/config", f"apiVersion: v1\nkind: Config\nusers:\n- name: sa\n  user:\n    token: {v}\n", v)
    v, v2 = sh.alnum(18), sh.alnum(16)
    pgpass = f"db.corpus.test:5432:app:app:{v}\n*:*:*:replicator:{v2}\n"
    yield text("pgpass", "/root/.pgpass", pgpass, v)
    yield text("pgpass", "/root/.pgpass", pgpass, v2)
    v = sh.password(20).replace("'", "")
    yield text("wordpress", "/var/www/html/wp-config.php", f"<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '{v}' );\n", v)
    v = sh.hex(32)
    yield text("rails", "/app/config/master.key", v, v)
    v = sh.hex(128)
    yield text("rails", "/app/config/secrets.yml", f"production:\n  secret_key_base: {v}\n", v)
    v = "django-insecure-" + sh.s(50, "abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*-_=+")
    yield text("django", "/app/mysite/settings.py", f"DEBUG = False\nSECRET_KEY = '{v}'\nALLOWED_HOSTS = ['*']\n", v)
    v = sh.alnum(16)
    yield text("database", "/app/src/main/resources/application.properties",
               f"spring.datasource.url=jdbc:postgresql://db:5432/app?user=app&password={v}&ssl=true\n", v)
    v = sh.alnum(14)
    yield text("database", "/app/config/database.yml", f"production:\n  url: mongodb+srv://app:{v}@cluster0.corpus.mongodb.net/app\n", v)
    v = sh.alnum(16)
    yield text("database", "/app/config/cache.env", f"REDIS_URL=redis://:{v}@redis.corpus.test:6379/0\n", v)
    v = sh.alnum(15)
    yield text("database", "/root/.my.cnf", f"[client]\nuser=root\npassword={v}\n", v)
    v = sh.alnum(16)
    yield text("maven", "/root/.m2/settings.xml", f"<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>ci</username>\n      <password>{v}</password>\n    </server>\n  </servers>\n</settings>\n", v)
    v = sh.alnum(16)
    yield text("gradle", "/root/.gradle/gradle.properties", f"signing.keyId=24875D73\nsigning.password={v}\nossrhUsername=ci\n", v)
    aid, v = sh.aws_id(), sh.aws_secret()
    s3cfg = f"[default]\naccess_key = {aid}\nsecret_key = {v}\n"
    yield text("aws", "/root/.s3cfg", s3cfg, aid)
    yield text("aws", "/root/.s3cfg", s3cfg, v)
    v = base64.b64encode(sh.g.r.randbytes(32)).decode()
    yield text("wireguard", "/etc/wireguard/wg0.conf", f"[Interface]\nAddress = 10.8.0.2/24\nPrivateKey = {v}\n\n[Peer]\nPublicKey = {base64.b64encode(sh.g.r.randbytes(32)).decode()}\n", v)
    v = sh.alnum(16)
    yield text("sql", "/docker-entrypoint-initdb.d/01-users.sql", f"CREATE USER app WITH PASSWORD '{v}';\nGRANT ALL ON DATABASE app TO app;\n", v)
    v = sh.alnum(16)
    yield text("sql", "/docker-entrypoint-initdb.d/02-mysql.sql", f"CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n", v)
    v = sh.alnum(20)
    yield text("redis", "/etc/redis/redis.conf", f"bind 0.0.0.0\nport 6379\nrequirepass {v}\n", v)
    v = sh.hex(40)
    yield text("newrelic", "/app/newrelic.ini", f"[newrelic]\nlicense_key = {v}\napp_name = corpus\n", v)
    v = sh.password(18)
    yield text("generic", "/app/config/app.env", f"SMTP_HOST=smtp.corpus.test\nSMTP_PASSWORD={v}\n", v, crlf=True)
    v = "1//0" + sh.s(99, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    adc = json.dumps({"client_id": "32555940559.apps.googleusercontent.com", "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
                      "refresh_token": v, "type": "authorized_user"}, indent=2)
    yield text("google", "/root/.config/gcloud/application_default_credentials.json", adc, v)
    v = sh.uuid()
    yield text("generic", "/app/ci/snyk.env", f"SNYK_TOKEN={v}\nCORRELATION_TOKEN={sh.uuid()}\n", v)
    v = key.strip().replace("\n", " ")
    yield text("private-key", "/app/deploy/key.env", f"APP=1\nPRIVATE_KEY=\"{v}\"\n", "-----BEGIN")
    aid, v = sh.aws_id(), sh.aws_secret()
    csv = f"User name,Password,Access key ID,Secret access key,Console login link\r\nci,,{aid},{v},https://x.signin.aws.amazon.com/console\r\n"
    yield text("aws", "/root/ci_accessKeys.csv", csv, aid)
    yield text("aws", "/root/ci_accessKeys.csv", csv, v)
    v = sh.aws_secret()
    yield text("aws", "/app/ci/aws.sh", f"aws configure set aws_secret_access_key {v}\n", v)
    v = sh.alnum(20)
    yield text("vpn", "/etc/ipsec.secrets", f"# /etc/ipsec.secrets\n: PSK \"{v}\"\n", v)
    v = sh.alnum(20)
    yield text("wifi", "/etc/wpa_supplicant/wpa_supplicant.conf", f"network={{\n  ssid=\"corp\"\n  psk=\"{v}\"\n}}\n", v)
    v = sh.alnum(18)
    yield text("generic", "/root/.msmtprc", f"account default\nhost smtp.corpus.test\nuser ci\npassword {v}\n", v)
    v = sh.alnum(24)
    yield text("generic", "/app/config/config.toml", f"[auth]\nclient_secret = \"{v}\"\n", v)
    v = sh.alnum(32)
    yield text("generic", "/etc/app/api.conf", f"ApiKey {v}\n", v)
