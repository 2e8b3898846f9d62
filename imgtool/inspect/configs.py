"""Credentials in the syntaxes of particular programs, where the generic `key = value` rule cannot see
them: .pgpass lines, PHP `define()`, SQL `CREATE USER ... PASSWORD`, redis `requirepass`, Rails'
master.key and secret_key_base, a Vault token file, and connection strings (`...;Password=...;`).

Each names the program's own syntax, so a match is evidence by itself; values still pass the
placeholder filter (`password_here`, `${APP_PASSWORD}`, redis's documented `foobared`).
"""

from __future__ import annotations

import re
from typing import Iterator

from . import filters
from .generic import key_is_secret
from .match import Match, Where, near


def _ok(value: str) -> bool:
    return len(value) >= 4 and not filters.placeholder(value) and not filters.word_placeholder(value)


def _match(rule: str, category: str, start: int, value: str) -> Match:
    return Match(rule, category, "high", start, start + len(value), value, "", "high", 85)


def pgpass(text: str, where: Where) -> Iterator[Match]:
    """`hostname:port:database:username:password` lines of a .pgpass file."""
    if where.name not in (".pgpass", "pgpass", "pgpass.conf"):
        return
    for m in re.finditer(r"(?m)^(?:(?:\\.|[^:\n\\])*:){4}((?:\\.|[^\n\\])+?)\r?$", text):
        value = m.group(1)
        if not m.group(0).startswith("#") and _ok(value) and value != "password":
            yield _match("pgpass-password", "database", m.start(1), value)


_DEFINE = re.compile(r"define\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\s*,\s*(['\"])([^'\"\n]{4,200})\2\s*\)")


def php_define(text: str, where: Where) -> Iterator[Match]:
    """`define('DB_PASSWORD', '...')` (wp-config.php and other PHP configuration)."""
    for m in _DEFINE.finditer(text):
        if key_is_secret(m.group(1)) and filters.generic_rejects(m.group(3)) is None:
            yield _match("php-define-secret", "generic", m.start(3), m.group(3))


# `\040` is how mysql's client writes a space into ~/.mysql_history
_S, _W = r"(?:\s|\\040)", r"(?:\b|(?<=\\040))"
_SQL = re.compile(r"(?i)" + _W + r"(?:(?:CREATE|ALTER)" + _S + r"+(?:USER|ROLE|LOGIN)\b[^;]{0,200}?" + _W + "PASSWORD" + _S + r"*=?"
                  + _S + r"*|IDENTIFIED" + _S + r"+(?:WITH" + _S + r"+\w+" + _S + r"+)?BY" + _S + r"+|"
                  r"SET" + _S + r"+PASSWORD(?:" + _S + r"+FOR" + _S + r"+\S+?)?" + _S + r"*=" + _S + r"*|"
                  r"(?<!new )(?-i:PASSWORD|password)" + _S + r"*\(" + _S + r"*)(?:E?')([^'\n]{4,128})'")   # not JS's `new Password(`


def sql_password(text: str, where: Where) -> Iterator[Match]:
    """Passwords set by SQL (init scripts in /docker-entrypoint-initdb.d, migrations, the mysql
    client's history): `IDENTIFIED BY '...'`, `CREATE USER ... PASSWORD '...'`, `PASSWORD('...')`."""
    for m in _SQL.finditer(text):
        if _ok(m.group(1)):
            yield _match("sql-password", "database", m.start(1), m.group(1))


_REDIS = re.compile(r"(?m)^[ \t]*(?:requirepass|masterauth)[ \t]+(\"?)([^\s\"]{4,})\1[ \t]*\r?$")


def redis_conf(text: str, where: Where) -> Iterator[Match]:
    """redis.conf `requirepass` / `masterauth` (commented-out defaults are not set)."""
    for m in _REDIS.finditer(text):
        if _ok(m.group(2)) and m.group(2) != "foobared":
            yield _match("redis-password", "database", m.start(2), m.group(2))


# redis-cli's history keeps `AUTH [user] password` as typed
_REDIS_AUTH = re.compile(r"(?mi)^[ \t]*AUTH[ \t]+(?:[^\s\"']+[ \t]+)?(\"?)([^\s\"]{4,})\1[ \t]*\r?$")


def rediscli_history(text: str, where: Where) -> Iterator[Match]:
    """`AUTH password` / `AUTH user password` lines of ~/.rediscli_history."""
    if where.name != ".rediscli_history":
        return
    for m in _REDIS_AUTH.finditer(text):
        if _ok(m.group(2)):
            yield _match("redis-password", "database", m.start(2), m.group(2))


# postfix's smtp_sasl_password_maps source: `[relay]:port user:password` (user may be an address)
_SASL = re.compile(r"(?m)^[ \t]*\[?[A-Za-z0-9_.-]+\]?(?::[0-9]{1,5})?[ \t]+[^\s:#]+:(\S{4,128})[ \t]*\r?$")


def postfix_sasl(text: str, where: Where) -> Iterator[Match]:
    """The relay credentials of postfix's sasl_passwd (and the *_passwd maps named after it)."""
    if not re.fullmatch(r"(sasl|smtp|relay)[\w-]*_passwd", where.name):
        return
    for m in _SASL.finditer(text):
        if _ok(m.group(1)):
            yield _match("postfix-sasl-password", "smtp", m.start(1), m.group(1))


# ~/.kaggle/kaggle.json (and ~/.config/kaggle/): the API key is 32 hex digits, so the generic rule calls it a hash
_KAGGLE = re.compile(r'"username"\s*:\s*"[^"\n]{1,64}"\s*,\s*"key"\s*:\s*"([0-9a-f]{32})"')
_KAGGLE_KEY = re.compile(r'"key"\s*:\s*"([0-9a-f]{32})"')


def kaggle_json(text: str, where: Where) -> Iterator[Match]:
    """A Kaggle API token: `"key"` in kaggle.json, or kaggle.json's exact `{"username", "key"}` shape elsewhere."""
    for m in (_KAGGLE_KEY if where.name == "kaggle.json" else _KAGGLE).finditer(text):
        if not filters.token_placeholder(m.group(1)):
            yield Match("kaggle-api-key", "kaggle", "critical", m.start(1), m.end(1), m.group(1), "", "high", 85)


# .NET configuration keys are `:`-paths (`"Jwt:Key"`, `"Authentication:Google:ClientSecret"`) in
# secrets.json (dotnet user-secrets) and appsettings*.json; the generic rule's key stops at `:`
_DOTNET = re.compile(r'"((?:[A-Za-z][\w.-]*:)+([A-Za-z][\w.-]*))"\s*:\s*"([^"\n]{8,200})"')
_DOTNET_LEAF = re.compile(r'"([A-Za-z][\w.-]*)"\s*:\s*"([^"\n]{8,200})"')
_DOTNET_FILE = re.compile(r"(?i)^(secrets|appsettings(\.[\w-]+)?)\.json$")


def dotnet_settings(text: str, where: Where) -> Iterator[Match]:
    """`"Section:Key": "..."` in .NET settings JSON; in secrets.json / appsettings*.json also a nested
    `"Key": "..."` (`"Jwt": {"Key": ...}`): there a bare Key names a signing or encryption key."""
    found = [(m.group(2), m.start(3), m.group(3)) for m in _DOTNET.finditer(text)]
    if _DOTNET_FILE.match(where.name):
        found += [(m.group(1), m.start(2), m.group(2)) for m in _DOTNET_LEAF.finditer(text)]
    for leaf, start, value in found:
        if filters.generic_rejects(value) is not None or filters.entropy(value) < 3.0:
            continue
        # a bare Key is also a cache or lookup key (`"Cache:Key": "products_list"`): random, or not a secret
        if key_is_secret(leaf) or (leaf.lower() == "key" and filters.entropy(value) >= 3.5 and _random_mix(value)):
            yield _match("dotnet-settings-secret", "generic", start, value)


def _random_mix(value: str) -> bool:
    return any(c.isdigit() for c in value) or (any(c.isupper() for c in value) and any(c.islower() for c in value))


_MASTER_KEY = re.compile(r"(^|/)config/(master|credentials/[\w.-]+)\.key$")
_KEY_BASE = re.compile(r"(?i)secret_key_base[\"']?\s*(?::|=>|=)\s*[\"']?([0-9a-f]{64,256})(?![0-9a-zA-Z])")


def rails_master_key(text: str, where: Where) -> Iterator[Match]:
    """Rails' config/master.key (it decrypts credentials.yml.enc): a file of 32 hex digits."""
    value = text.strip()
    if _MASTER_KEY.search(where.path) and re.fullmatch(r"[0-9a-f]{32}", value) and not filters.repeated(value):
        yield Match("rails-master-key", "rails", "critical", text.index(value), text.index(value) + 32, value, "", "high", 85)


def rails_key_base(text: str, where: Where) -> Iterator[Match]:
    """A literal secret_key_base (secrets.yml, an initializer): hex, so the generic rule calls it a hash."""
    for m in _KEY_BASE.finditer(text):
        if not filters.repeated(m.group(1)) and not filters.sequential(m.group(1)):
            yield Match("rails-secret-key-base", "rails", "critical", m.start(1), m.end(1), m.group(1), "", "high", 85)


def vault_token_file(text: str, where: Where) -> Iterator[Match]:
    """~/.vault-token: the CLI's login token, legacy `s.` tokens included."""
    value = text.strip()
    if where.name == ".vault-token" and re.fullmatch(r"(?:[sbr]|hv[sbr])\.[A-Za-z0-9_-]{20,}", value):
        if not filters.token_placeholder(value.split(".", 1)[1]):
            yield Match("vault-token", "vault", "critical", text.index(value), text.index(value) + len(value), value,
                        value.split(".", 1)[0] + ".", "high", 85)


_CONN = re.compile(r"(?i)(?:^|[;\"'\s])(?:password|pwd)\s*=\s*([^;\"'\s]{4,128})(?=;|[\"'\s]|$)")
_CONN_CONTEXT = re.compile(r"(?i)(?:server|data source|host|user id|uid|database|initial catalog)\s*=")


def connection_string(text: str, where: Where) -> Iterator[Match]:
    """ADO.NET / ODBC connection strings: `Server=...;User Id=...;Password=...;` in any file."""
    for m in _CONN.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        line = text[line_start:line_end if line_end >= 0 else len(text)]
        if _CONN_CONTEXT.search(line) and ";" in line and filters.generic_rejects(m.group(1)) is None \
                and not filters.word_placeholder(m.group(1)):
            yield _match("connection-string-password", "database", m.start(1), m.group(1))


_IPSEC_WORDS = ("psk", "xauth", " eap", "ntlm")
_IPSEC = re.compile(r"(?m)^[^#\n]*:\s*(?:PSK|XAUTH|EAP|NTLM)\s+\"([^\"\n]{4,})\"")


def ipsec_secrets(text: str, where: Where) -> Iterator[Match]:
    """strongSwan/libreswan ipsec.secrets: `: PSK "..."`, `user : XAUTH "..."`."""
    for m in near(_IPSEC, text, _IPSEC_WORDS):
        if _ok(m.group(1)):
            yield _match("ipsec-secret", "vpn", m.start(1), m.group(1))


def aws_credentials_csv(text: str, where: Where) -> Iterator[Match]:
    """The console's `*_accessKeys.csv` download: `Access key ID,Secret access key` columns."""
    head_end = text.find("\n")
    header = [h.strip().lower() for h in text[:head_end if head_end >= 0 else len(text)].split(",")]
    if "secret access key" not in header or head_end < 0:
        return
    column, pos = header.index("secret access key"), head_end + 1
    for row in text[pos:].splitlines(keepends=True):
        cells = row.rstrip("\r\n").split(",")
        value = cells[column].strip() if column < len(cells) else ""
        if re.fullmatch(r"[A-Za-z0-9/+]{40}", value) and not filters.token_placeholder(value):
            start = pos + row.index(value)
            yield Match("aws-secret-access-key", "aws", "critical", start, start + 40, value, "", "high", 85)
        pos += len(row)


CONFIG_RULES = (
    ((":",), pgpass),
    (("define",), php_define),
    (("password", "identified"), sql_password),
    (("requirepass", "masterauth"), redis_conf),
    (("auth",), rediscli_history),
    (("",), postfix_sasl),         # name-gated
    (('"key"',), kaggle_json),
    (("key", "secret", "pass", "token", "pwd"), dotnet_settings),
    (("secret_key_base",), rails_key_base),
    (("",), rails_master_key),      # path-gated: the file is nothing but the key
    (("",), vault_token_file),
    (("password", "pwd"), connection_string),
    (_IPSEC_WORDS, ipsec_secrets),
    (("secret access key",), aws_credentials_csv),
)

