"""The generic rule: `password = ...`, `API_KEY: ...`, `<secret>...</secret>` in configuration.

It runs only where such lines are configuration (config-like files, Env, Labels, history; quoted
literals in source code) and keeps a value only if every filter in `filters.generic_rejects` lets
it through: this is where detect-secrets and gitleaks lose their precision.
"""

from __future__ import annotations

import re
from typing import Iterator

from . import filters
from .match import Match, Where

KEYWORD = (r"(?:passw(?:or)?d|passwd|pwd|passphrase|secret|api[_.-]?key|apikey|access[_.-]?key|secret[_.-]?key|"
           r"private[_.-]?key|auth[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|license[_.-]?key|"
           r"app[_.-]?key|application[_.-]?key|psk|pre[_.-]?shared[_.-]?key|(?:auth|access|refresh|api|bearer|session|bot|app|oauth|personal)?[_.-]?token|credentials?|client[_.-]?secret|"
           r"(?<![a-z])pass|(?<![a-z])pw)(?:[_.-]?(?:base|value|string))?")
_KEY = re.compile(r"(?i)^(?P<prefix>[A-Za-z0-9_.-]*?)" + KEYWORD + r"$")
_NOT_SECRET_KEY = re.compile(r"(?i)(^|[_.-])(csrf|xsrf|next|page|continuation|sync|cancel(lation)?|max|min|num|"
                             r"public|pub|type|kind|name|length|len|size|ttl|expir\w*|url|uri|path|file|"
                             r"endpoint|header|policy|count|enabled?|required|hash)[_.-]?")
# Found by the keyword and the operator first (cheap), then the key is extended backwards and the
# value read forwards: a pattern that starts with `[A-Za-z0-9_.-]*` is tried at every position.
_BASE_KEYWORD = (r"(?:pass(?:w(?:or)?d|phrase)?|pwd|secret(?:[_.-]?key)?|api[_.-]?key|apikey|access[_.-]?key|"
                 r"private[_.-]?key|auth[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|license[_.-]?key|"
                 r"app[_.-]?key|application[_.-]?key|psk|pre[_.-]?shared[_.-]?key|token|"
                 r"credentials?|(?<![a-z])pw)(?:[_.-]?(?:base|value|string))?")   # factored by first letters: 5x faster
# `key = v`, `"key": v`, `["key"] = v` (a subscript: PHP's $cfg['password'], os.environ["X"]) and, quoted
# both sides, `"key", "v"` (a call: Setenv, setProperty, getenv's default)
_OPERATOR = r"[\"']?\]?[ \t]*(?::=|=>|=|:|(?<=[\"'])[ \t]*,(?=[ \t]*[\"']))[ \t]*"
_CANDIDATE = re.compile(_BASE_KEYWORD + _OPERATOR)            # run over the lower-cased text: 9x faster than re.I
_CANDIDATE_I = re.compile(_BASE_KEYWORD + _OPERATOR, re.I)    # for texts whose lower() changes length
# in source a password literal is often human-chosen (`Summer2024!`, 3.3 bits): the generic 3.0, not 3.5
_PASSWORD_KEY = re.compile(r"(?i)(passw(or)?d|passwd|pwd|passphrase)$")
_NAME_LIST = re.compile(r"[A-Za-z_.-]+$")
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.-]*$")
# a bare value ends at a space, a quote, `,;&` or a `#` after a space: `#` inside a value is not a
# comment in .env, .properties or configparser files (`password=wnZS#EhcS` is one value)
_VALUE = re.compile(r"\"(?P<dq>[^\"\n]{1,200})\"|'(?P<sq>[^'\n]{1,200})'|(?P<bare>(?:[^\s\"'`,;#&]|(?<=[^\s])#){1,200})")
_XML = re.compile(r"(?i)<(?P<key>[\w:.-]*" + KEYWORD + r")>\s*(?P<bare>[^<\s]{1,200})\s*</")
# .NET appSettings / NuGet.Config `<add key="ClearTextPassword" value="..."/>`, Spring `<property name=.. value=..>`
_XML_PAIR = re.compile(r"(?i)<(?:add|property|entry|param|setting)\s+(?:key|name)\s*=\s*\"(?P<key>[\w:.-]{1,80})\"\s+"
                       r"value\s*=\s*\"(?P<dq>[^\"\n]{1,200})\"")
# ... and Hibernate's / Java Properties XML's `<property name="connection.password">v</property>`
_XML_NAMED = re.compile(r"(?i)<(?:property|entry|param|setting)\s+(?:key|name)\s*=\s*\"(?P<key>[\w:.-]{1,80})\"\s*>"
                        r"\s*(?P<bare>[^<\s]{1,200})\s*</")
_DIRECTIVE = re.compile(r"(?m)^[ \t]*(?P<key>[A-Za-z][\w.-]{1,60})[ \t]+(?:\"(?P<dq>[^\"\n]{1,200})\"|"
                        r"(?P<bare>[^\s\"'=:#]{1,200}))[ \t]*\r?$")
_DIRECTIVE_FILE = re.compile(r"\.(conf|cfg|cnf)$|^etc/[^.]*$|(^|/)\.[a-z]+rc$")
_MAX_LINE = 400   # minified or generated text is not configuration
# notes and logs (`notes.txt`, `deploy.log`): key=value there is prose as often as configuration, so
# only a random-looking value counts (3,691 real .txt/.log files, 39 MB on this machine: no hit at 3.5)
_NOTES = re.compile(r"(?i)\.(txt|log)$")
_NOTES_ENTROPY = 3.5


def key_is_secret(key: str) -> bool:
    """Does a variable/field name say its value is a credential (DB_PASSWORD yes, TOKEN_URL no)?"""
    m = _KEY.match(key.strip("\"'"))
    return m is not None and not _NOT_SECRET_KEY.search(m.group("prefix"))


# vendors whose API keys are hex or UUIDs (Datadog, Twilio, New Relic, Snyk, Consul, legacy npm...)
_VENDORS = (r"dd|datadog|twilio|newrelic|new_relic|nr|mailgun|sendgrid|github|gh|heroku|sentry|pagerduty|segment|"
            r"mixpanel|algolia|rollbar|bugsnag|honeycomb|circleci|travis|codecov|snyk|sonar|sonarqube|cloudflare|cf|"
            r"okta|jira|slack|stripe|twitch|npm|consul|nomad|octopus|launchdarkly|ld|logdna|loggly|mapbox|pusher")
_VENDOR = r"^(" + _VENDORS + r")[_.-]"
# a vendor CLI's own config file (.sentryclirc, datadog.yaml, newrelic.yml): its bare `token` is that vendor's
_VENDOR_FILE = re.compile(r"(?i)^\.?(?:sentry|datadog|newrelic|rollbar|bugsnag|honeycomb|codecov|snyk|sonar|cloudflare|mapbox|"
                          r"pusher|launchdarkly|pagerduty|twilio|heroku|consul|nomad|mailgun|sendgrid|algolia)(?:clirc|rc|[_.-])")
# keys whose hex values are credentials, not digests: `*_API_KEY`, secrets, passwords, license keys and
# the vendors above; a bare `auth_token: <sha1>` stays a hash, a bare `session_token: <uuid>` an id
_HEX_KEY = re.compile(r"(?i)(api[_.-]?key|apikey|secret|passw|license[_.-]?key|" + _VENDOR + ")")
_UUID_KEY = re.compile(r"(?i)" + _VENDOR)


def value_ok(value: str, key: str = "", vendor_file: bool = False) -> bool:
    """Does the value survive every false-positive filter (hex passes where the key or a vendor's
    config file says credential, UUIDs where the key names the vendor)?"""
    why = filters.generic_rejects(value)
    if why == "hash" and (vendor_file or _HEX_KEY.search(key)) and filters.is_hex(value):
        return filters.entropy(value) >= 3.0 and not filters.sequential(value)
    if why == "uuid" and _UUID_KEY.search(key):
        return not filters.repeated(value.replace("-", ""))
    return why is None


def generic(text: str, where: Where) -> Iterator[Match]:
    """key=value assignments whose key names a credential and whose value looks like one."""
    notes = where.kind == "file" and _NOTES.search(where.name) is not None
    if not (where.config_like or where.source_code or notes):
        return
    quoted_only = where.source_code and not where.config_like
    vendor_file = _VENDOR_FILE.match(where.name) is not None
    for key, start, end, group, value in _assignments(text, _DIRECTIVE_FILE.search(where.path) is not None):
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        if (line_end if line_end >= 0 else len(text)) - line_start > _MAX_LINE:
            continue
        if quoted_only and group == "bare":
            continue
        if not key_is_secret(key) or not value_ok(value, key, vendor_file):
            continue
        if quoted_only and filters.entropy(value) < (3.0 if _PASSWORD_KEY.search(key) else 3.5):
            continue
        if notes and filters.entropy(value) < _NOTES_ENTROPY:
            continue
        yield Match("generic-secret-assignment", "generic", "high", start, end, value, "", "medium", 10)


def _assignments(text: str, directives: bool) -> Iterator[tuple[str, int, int, str, str]]:
    """(key, value start, value end, how it was quoted, value) for `key OP value`, `<key>value</key>`
    and, in server configuration (`directives`), the Apache/nginx/squid style `Key value` line."""
    low = text.lower()
    candidates = _CANDIDATE.finditer(low) if len(low) == len(text) else _CANDIDATE_I.finditer(text)
    for m in candidates:
        head = _KEY_CHARS.search(text, max(0, m.start() - 100), m.start())
        written = text[m.start():m.end()]
        key = (head.group(0) if head else "") + re.split(r"[=:,]", written)[0].rstrip("\"'] \t")
        v = _VALUE.match(text, m.end())
        if v is None or ("," in written and _NAME_LIST.match(v.group(0).strip("\"'"))):
            continue   # `"rsa_private_key", "rsa_public_key"` is a list of names, not a call's value
        yield (key, *_trimmed(v))
    for pattern in (_XML, _XML_PAIR, _XML_NAMED):
        for m in pattern.finditer(text):
            yield (m.group("key"), *_trimmed(m))
    if directives:
        for m in _DIRECTIVE.finditer(text):
            yield (m.group("key"), *_trimmed(m))


def _trimmed(m: re.Match[str]) -> tuple[int, int, str, str]:
    group = next(g for g in ("dq", "sq", "bare") if m.groupdict().get(g) is not None)
    raw = m.group(group)
    value = raw.strip()
    start = m.start(group) + raw.index(value) if value else m.start(group)
    return start, start + len(value), group, value


def assignment(key: str, value: str, offset: int) -> Iterator[Match]:
    """One K=V from Env, Labels or a build argument, judged by the same key and value tests."""
    if key_is_secret(key) and value_ok(value, key):
        yield Match("generic-secret-assignment", "generic", "high", offset, offset + len(value), value,
                    "", "medium", 10)
