"""Rules that know a file format: GCP service-account JSON, docker auths, .netrc, .npmrc, .pypirc,
kubeconfig, credentials in URLs (.git-credentials, database URLs), and private keys by location.

They run before the token shapes and win overlaps: a GitHub token inside `.git-credentials` is
reported as the credential file's leak, once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Iterator

from . import filters, keyformats, keys
from .match import Match, Where, near

_SSH_HOME = re.compile(r"^((root|home/[^/]+)/\.ssh/[^/]+|etc/ssh/ssh_host_[^/]*_key)$")
_TLS_PATH = re.compile(r"(^|/)(etc/(ssl|pki|nginx|apache2|httpd|letsencrypt)/|[^/]*\.(key|pem)$)")


def private_keys(text: str, where: Where) -> Iterator[Match]:
    """PEM and PuTTY keys; named for where they sit (an SSH identity, a TLS key, or just a key)."""
    for km in [*keys.find_pem(text), *keys.find_putty(text), *keyformats.find_other(text)]:
        if km.info.kind == "putty":
            rule = "putty-private-key"
        elif km.info.kind == "openvpn":
            rule = "openvpn-static-key"
        elif _SSH_HOME.match(where.path) and not where.path.endswith(".pub"):
            rule = "ssh-private-key"
        elif where.kind == "file" and _TLS_PATH.search(where.path):
            rule = "tls-private-key"
        else:
            rule = "private-key"
        severity = "medium" if km.info.encrypted else "critical"
        yield Match(rule, "private-key", severity, km.start, km.end, text[km.start:km.end], _key_prefix(km),
                    km.info.confidence, 80, km.start)


def _key_prefix(km: keys.KeyMatch) -> str:
    """What redaction keeps of a key: its marker line, never key material."""
    if km.label == "PuTTY":
        return "PuTTY-User-Key-File:"
    if km.info.kind in ("pem", "rsa", "ec", "dsa", "pkcs8", "openssh", "pgp", "encrypted", "openvpn"):
        return f"-----BEGIN {km.label}-----"
    return {"ssh2": "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----", "xml": f"<{km.label}>", "gnupg": "(private-key"}.get(km.info.kind, "")


_GCP_TYPE = re.compile(r'"type"\s*:\s*"service_account"')
_GCP_KEY = re.compile(r'"private_key"\s*:\s*"((?:[^"\\]|\\.)*)"')


def gcp_service_account(text: str, where: Where) -> Iterator[Match]:
    """A service-account key file: the private_key string of a `"type": "service_account"` JSON."""
    if not _GCP_TYPE.search(text):
        return
    for m in _GCP_KEY.finditer(text):
        try:
            value = json.loads('"' + m.group(1) + '"')
        except ValueError:
            continue
        found = next(keys.find_pem(value), None)
        if found is not None:
            yield Match("gcp-service-account", "gcp", "critical", m.start(1), m.end(1), value,
                        "-----BEGIN PRIVATE KEY-----", "high", 90)


_AUTH = re.compile(r'"(auth|identitytoken|password|registrytoken)"\s*:\s*"([^"\\]{4,})"', re.I)
_K8S_DOCKERCFG = re.compile(r"\.dockerconfigjson\"?\s*:\s*\"?([A-Za-z0-9+/=]{20,})")


def _docker_auth_ok(kind: str, value: str) -> bool:
    if kind.lower() != "auth":
        return not filters.placeholder(value) and len(value) >= 8
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return bool(sep) and len(password) >= 4 and not filters.placeholder(password)


def docker_config(text: str, where: Where) -> Iterator[Match]:
    """`auths` entries of docker's config.json / .dockercfg, also inside a k8s .dockerconfigjson."""
    if '"auths"' in text or where.name == ".dockercfg":
        for m in _AUTH.finditer(text):
            if _docker_auth_ok(m.group(1), m.group(2)):
                yield Match("docker-config-auth", "docker", "critical", m.start(2), m.end(2), m.group(2),
                            "", "high", 90)
    for m in _K8S_DOCKERCFG.finditer(text):
        try:
            inner = base64.b64decode(m.group(1), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        if any(True for _ in docker_config(inner, Where("file", "x/.docker/config.json"))):
            yield Match("docker-config-auth", "docker", "critical", m.start(1), m.end(1), m.group(1), "", "high", 90)


_NETRC = re.compile(r"(?:^|\s)machine\s+\S+(?:\s+(?:login|account|port)\s+\S+)*\s+password\s+(\S+)")
_NETRC_DEFAULT = re.compile(r"(?:^|\s)(?:default|login\s+\S+)\s+password\s+(\S+)")


_PLAIN_VALUE = re.compile(r"^[^\s\"'\\`]{8,}$")


def netrc(text: str, where: Where) -> Iterator[Match]:
    """`machine H login U password P`: in .netrc files, and wherever a build wrote one (outside a
    .netrc, e.g. in a test's string literal, only a plain value of 8+ characters counts)."""
    in_netrc = where.name in (".netrc", "_netrc")
    patterns = (_NETRC, _NETRC_DEFAULT) if in_netrc else (_NETRC,)
    seen = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            value = m.group(1).strip("\"'")
            if m.start(1) in seen or filters.placeholder(value) or len(value) < 4:
                continue
            if not in_netrc and not _PLAIN_VALUE.match(value):
                continue
            seen.add(m.start(1))
            yield Match("netrc-password", "netrc", "high", m.start(1), m.start(1) + len(value), value, "", "high", 90)


_NPMRC_ANY = re.compile(r"//[^\s:]+/:(_authToken|_auth|_password)\s*=\s*[\"']?([^\s\"']+)")
_NPMRC_FILE = re.compile(r"(?m)^\s*(?://[^\s:]*:)?(_authToken|_auth|_password)\s*=\s*[\"']?([^\s\"']+)")


def npmrc(text: str, where: Where) -> Iterator[Match]:
    """npm registry credentials: `//registry/:_authToken=...`, and `_auth`/`_password` in .npmrc."""
    pattern = _NPMRC_FILE if where.name == ".npmrc" else _NPMRC_ANY
    for m in pattern.finditer(text):
        value = m.group(2)
        if len(value) < 8 or filters.placeholder(value):
            continue
        yield Match("npmrc-auth", "npm", "critical", m.start(2), m.end(2), value, "", "high", 90)


_PYPIRC = re.compile(r"(?m)^\s*password\s*[=:]\s*(\S+)")


def pypirc(text: str, where: Where) -> Iterator[Match]:
    """`password = ...` in .pypirc (an upload token or an account password)."""
    if where.name != ".pypirc":
        return
    for m in _PYPIRC.finditer(text):
        if len(m.group(1)) >= 6 and not filters.placeholder(m.group(1)):
            yield Match("pypirc-password", "pypi", "critical", m.start(1), m.end(1), m.group(1), "", "high", 90)


_KUBE = re.compile(r"(?m)^\s*-?\s*\"?(client-key-data|token|password|id-token|refresh-token|access-token|client-secret)\"?"
                   r"\s*:\s*[\"']?([^\s\"'#,]+)")


def kubeconfig(text: str, where: Where) -> Iterator[Match]:
    """A kubeconfig's user credentials: client-key-data (a base64 PEM key), tokens, passwords."""
    if not re.search(r"(?m)^\s*\"?kind\"?\s*:\s*\"?Config\b", text) or "users" not in text:
        return
    for m in _KUBE.finditer(text):
        field, value = m.group(1), m.group(2)
        if field == "client-key-data":
            try:
                decoded = base64.b64decode(value, validate=True).decode("ascii")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                continue
            if next(keys.find_pem(decoded), None) is None:
                continue
        elif len(value) < 8 or filters.placeholder(value):
            continue
        yield Match("kubeconfig-credential", "kubeconfig", "critical", m.start(2), m.end(2), value, "", "high", 90)


# `:\/\/`: JSON as PHP's json_encode and some serializers write it (`"postgres:\/\/u:p@h\/db"`)
_URL = re.compile(r"(?<![\w+.-])([a-zA-Z][a-zA-Z0-9+.-]{1,24}):\\?/\\?/([^\s:/@'\"`<>(){}\[\]]{0,128}):"
                  r"([^\s/'\"`<>]{1,256})@([A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\])")   # the last `@` ends it, as urllib reads it
_TEMPLATE_START = re.compile(r"^(\$|%[A-Za-z_{(])")   # `$DB_PASS`, `%DB_PASS%`, `%(pw)s`; not a random `%6R...`
_DB_SCHEMES = re.compile(r"^(postgres(ql)?|mysql|mariadb|mongodb(\+srv)?|redis|rediss|amqps?|mssql|sqlserver|"
                         r"oracle|cockroachdb|clickhouse|couchdb|cassandra|neo4j|jdbc:.*|[a-z]+\+[a-z]+)$", re.I)


def url_credentials(text: str, where: Where) -> Iterator[Match]:
    """`scheme://user:password@host`: .git-credentials lines, database URLs, any URL with a password."""
    for m in near(_URL, text, ("://", ":\\/\\/")):
        user, password = m.group(2), m.group(3)
        if len(password) < 6 or password == user or filters.word_placeholder(password) or filters.placeholder(user + password):
            continue
        if _TEMPLATE_START.match(password):
            continue
        if where.name == ".git-credentials":
            rule, category = "git-credentials", "git"
        elif _DB_SCHEMES.match(m.group(1)):
            rule, category = "database-url", "database"
        else:
            rule, category = "url-credentials", "url"
        yield Match(rule, category, "high", m.start(3), m.end(3), password, "", "high", 85)


_USER_FLAG = re.compile(r"\s(?:-u|--user)[ =]?[\"']?([^\s:'\"]{1,64}):([^\s'\"]{4,128})")
_CURL = re.compile(r"\b(?:curl|wget)\b")
_SECRET_FLAG = re.compile(r"(?<![\w-])(?:--password|--passwd|--http-password|--token|--api-key|--access-token|--secret)"
                          r"[= ][\"']?([^\s'\"]{8,128})")
_LOGIN_FLAG = re.compile(r"\b(?:(?:docker|podman|buildah|skopeo|nerdctl|oras)\s+login|helm\s+registry\s+login)\b"
                         r"[^\n|;&]*?\s(?:-p|--password)[= ]?[\"']?([^\s\"'$%][^\s\"']{5,127})|"
                         r"\bsshpass\s+-p\s*[\"']?([^\s\"'$%][^\s\"']{5,127})")
_MYSQL_FLAG = re.compile(r"\bmysql(?:dump|admin|sh|import|check)?\b[^\n|;&]*?\s-p(?:'([^'\n$]{6,127})'|\"([^\"\n$]{6,127})\"|"
                         r"([^\s\"'$%-][^\s\"']{5,127}))")
# redis-cli's `-a PASS` / `--pass PASS` (it warns that the password shows in `ps`, and so in history)
_REDIS_CLI = re.compile(r"\bredis-cli\b[^\n|;&]*?\s(?:-a|--pass)[ \t]+[\"']?([^\s\"'$%-][^\s\"']{3,127})")
# `echo 'root:PASS' | chpasswd`: how Dockerfiles set an account's password
_CHPASSWD = re.compile(r"\becho\s+(?:-e\s+)?[\"']?[a-z_][\w.-]{0,31}:([^\s:\"'$][^\s\"']{3,127})[\"']?\s*\|\s*(?:sudo\s+)?chpasswd\b")
_HEADER = re.compile(r"(?i)(?:authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|token)\s+|"
                     r"\b(?:x-api-key|api-key|apikey|x-auth-token|private-token|x-access-token|x-apikey|x-token)[\"']?\s*:\s*[\"']?)"
                     r"([A-Za-z0-9._~+/=-]{16,512})")
_SECRET_FLAG_WORDS = ("--pass", "--http-pass", "--token", "--api-key", "--access-token", "--secret")
_BASIC = re.compile(r"(?:[Aa]uthorization|AUTHORIZATION)[\"']?\s*[:=]\s*[\"']?[Bb]asic\s+([A-Za-z0-9+/]{8,}={0,2})")


def _header_value_ok(value: str) -> bool:
    """A header's value is a literal, so a dotted one (`_Ffz9q.RSPBH...`) is an opaque token, not a
    reference, when it is long and mixes character classes as random output does."""
    why = filters.generic_rejects(value)
    if why == "reference" and "." in value and "(" not in value and len(value) >= 24:
        return filters.entropy(value) >= 4.0 and all(any(t(c) for c in value) for t in (str.islower, str.isupper, str.isdigit))
    return why is None


def command_line(text: str, where: Where) -> Iterator[Match]:
    """Credentials given to a command: `curl -u user:pass`, `--password X`, `docker login -p X`,
    `mysql -pX`, and HTTP auth headers (`Authorization: Basic/Bearer ...`, `X-API-Key: ...`)."""
    for m in near(_USER_FLAG, text, ("curl", "wget")):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if not _CURL.search(text, line_start, m.start()):
            continue
        if not filters.placeholder(m.group(2)) and not m.group(2).startswith(("$", "%")):
            yield Match("command-line-credential", "cli", "high", m.start(2), m.end(2), m.group(2), "", "high", 85)
    for m in near(_SECRET_FLAG, text, _SECRET_FLAG_WORDS):
        value = m.group(1)
        if filters.generic_rejects(value) is None and not value.startswith(("%", "-")):
            yield Match("command-line-credential", "cli", "high", m.start(1), m.end(1), value, "", "medium", 85)
    for pattern, words in ((_LOGIN_FLAG, ("login", "sshpass")), (_MYSQL_FLAG, ("mysql",)), (_CHPASSWD, ("chpasswd",)),
                           (_REDIS_CLI, ("redis-cli",))):
        for m in near(pattern, text, words):
            group = m.lastindex or 1
            value = m.group(group)
            if not filters.placeholder(value) and not filters.word_placeholder(value):
                yield Match("command-line-credential", "cli", "high", m.start(group), m.end(group), value, "", "high", 85)
    for m in near(_HEADER, text, ("authorization", "api-key", "apikey", "-token")):
        if _header_value_ok(m.group(1)):
            yield Match("http-auth-header", "http", "high", m.start(1), m.end(1), m.group(1), "", "medium", 40)
    for m in near(_BASIC, text, ("authorization",)):
        if _docker_auth_ok("auth", m.group(1)):
            yield Match("basic-auth-header", "http", "high", m.start(1), m.end(1), m.group(1), "", "high", 85)


CONTEXT_RULES = (
    (("-----begin", "putty-user-key-file", *keyformats.KEYWORDS), private_keys),
    (("service_account",), gcp_service_account),
    (("auth", "identitytoken", ".dockerconfigjson"), docker_config),
    (("machine", "password"), netrc),
    (("_auth", "_password"), npmrc),
    (("password",), pypirc),
    (("kind",), kubeconfig),
    (("://", ":\\/\\/"), url_credentials),
    (("curl", "wget", "--pass", "--http-pass", "--token", "--api-key", "--access-token", "--secret", "authorization",
      "login", "sshpass", "mysql", "chpasswd", "redis-cli", "api-key", "apikey", "-token"), command_line),
)
