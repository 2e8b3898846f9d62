"""False-positive controls: entropy, placeholders, hashes, UUIDs, indirect references, example values,
and the paths where credentials are vendored test data rather than leaks.

Each filter names one kind of string that looks like a secret and is not (research/inspect.md §4.4);
structured rules use only the placeholder and example checks, the generic rule all of them.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import re
from collections import Counter


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "9876543210", "zyxwvutsrqponmlkjihgfedcba", "qwertyuiop", "asdfghjkl")
_PLACEHOLDER_WORDS = {
    "changeme", "change_me", "change-me", "changeit", "example", "sample", "placeholder", "password", "passwd",
    "secret", "token", "null", "none", "nil", "true", "false", "undefined", "redacted", "hidden", "dummy",
    "default", "required", "optional", "empty", "todo", "fixme", "tbd", "string", "value", "test", "testing",
    "mypassword", "mysecret", "secretpassword", "password123", "admin", "root", "guest", "letmein", "tiger",
    "notasecret", "not-a-secret", "masked", "xxxxxx", "foobar", "foo", "bar", "pass", "pwd", "apikey",
    "api_key", "secret_key", "access_key", "auth_token", "your_token", "insert", "replace", "mask",
    "passw0rd", "p@ssw0rd", "p@ssword", "admin123", "qwerty123", "welcome1", "welcome123", "secret123",
    "iloveyou", "trustno1", "sunshine", "football", "monkey123", "abc12345",
    "postgres", "mysql", "mariadb", "redis", "rabbitmq", "guest", "minioadmin", "elastic", "kibana",
    "jenkins", "docker", "ubuntu", "debian", "oracle", "user", "username", "s3cr3t", "hunter2",
}
_PLACEHOLDER_PARTS = ("example", "placeholder", "changeme", "change_me", "change-me", "xxxx", "****", "dummy",
                      "your_", "your-", "yourpass", "yourtoken", "yoursecret", "yourkey", "insert_", "insert-",
                      "replace_", "replace-", "replaceme", "_here", "-here", "sample", "fake", "redacted",
                      "...", "…", "password", "passwd", "secret", "token")
_TEMPLATE = re.compile(r"\$\{|\$\(|\{\{|\}\}|%\([a-z_]+\)s|%[sd]\b|#\{|^\$[A-Za-z_][A-Za-z0-9_]*$|^%[A-Za-z_]+%$|^@[A-Za-z_]+@$|^\$\$"
                       r"|<[A-Za-z][A-Za-z0-9 _.-]*>|^\$[A-Za-z_{(]")


def repeated(value: str) -> bool:
    """All one character, or mostly one (`xxxxxxxxab`)."""
    if not value:
        return True
    top = Counter(value.lower()).most_common(1)[0][1]
    return top >= max(len(value) * 0.6, 4)


def sequential(value: str, run: int = 6) -> bool:
    """Contains a run like `123456`, `abcdef`, `qwerty` (fixtures and docs, never random output)."""
    low = value.lower()
    return any(seq[i:i + run] in low for seq in _SEQUENCES for i in range(len(seq) - run + 1))


def placeholder(value: str) -> bool:
    """A template, variable reference, masked value or the word people write instead of a secret."""
    low = value.lower().strip("\"'`")
    if not low or low in _PLACEHOLDER_WORDS or _TEMPLATE.search(value):
        return True
    if any(part in low for part in _PLACEHOLDER_PARTS):
        return True
    return repeated(low)


def word_placeholder(value: str) -> bool:
    """A placeholder once URL escapes and punctuation are gone (`p%40ssword`, `passwo^rd`, `My%20Pass`)."""
    from urllib.parse import unquote

    decoded = unquote(value)
    squashed = re.sub(r"[^a-z0-9]", "", decoded.lower()).replace("0", "o")
    return (placeholder(decoded) or any(c.isspace() for c in decoded)
            or any(w in squashed for w in ("password", "passwd", "secret")))


def token_placeholder(random_part: str) -> bool:
    """For structured tokens: the part after the fixed prefix is not random output."""
    return (placeholder(random_part) or sequential(random_part)
            or (len(random_part) >= 16 and entropy(random_part) < 3.0))


_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_PREFIX = re.compile(r"^(sha(1|224|256|384|512)[:-]|md5[:-]|\$(1|2[abxy]?|5|6|y|argon2(i|d|id)?|pbkdf2[\w-]*|scrypt)\$|\{(s?sha|md5|crypt|ssha512|pbkdf2)\}|pbkdf2_|bcrypt\$|argon2)", re.I)
# references, not values: `settings.SECRET`, `DB_PASSWORD`, `get_key()`, `env["X"]`, `{...}` / `[...]` structures
_INDIRECT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$|^[A-Z][A-Z0-9_]*$"
                       r"|^[A-Za-z_][\w.]*\(.*\)$|^[A-Za-z_][\w.]*\[.*\]$|^\{.*\}?$|^\[.*\]?$|^[A-Za-z_][\w.]*\($")
# encrypted at rest, decryptable only with a key the image does not hold: SOPS, Ansible Vault, Vault transit
_ENCRYPTED = re.compile(r"^(ENC\[[A-Z0-9_]+(,|$)|\$ANSIBLE_VAULT;|vault:v[0-9]+:)")
# one natural-language word (a UI translation: `"password": "Contraseña"`), JSON's \\u escapes undone
_WORD = re.compile(r"^[^\W\d_][^\W\d_A-Z]+$")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_DATA = re.compile(r"^(data:|iVBORw0KGgo|/9j/|R0lGOD|PHN2Zy|UklGR)")
_NOT_VALUE = re.compile(r"^((/|\./|\.\./|~/)[\w./-]*|[a-z][a-z0-9+.-]*://[^:@/]*(/\S*)?|file:\S*|-?[0-9]+(\.[0-9]+)?[a-z]{0,2})$", re.I)


def hash_like(value: str) -> bool:
    """A digest or a password hash: hex of a digest length, or a known hash prefix."""
    if _HEX.match(value) and len(value) in (32, 40, 56, 64, 96, 128):
        return True
    return bool(_HASH_PREFIX.match(value))


def is_hex(value: str) -> bool:
    """Only hex digits."""
    return bool(_HEX.match(value))


def uuid_like(value: str) -> bool:
    """An identifier, not a credential (legacy npm tokens are UUIDs: the .npmrc rule covers those)."""
    return bool(_UUID.match(value))


def generic_rejects(value: str) -> str | None:
    """Why a generic key=value assignment is not a secret, or None if it may be one."""
    if len(value) < 8:
        return "short"
    if any(c.isspace() for c in value):
        return "prose"
    if placeholder(value):
        return "placeholder"
    if _ENCRYPTED.match(value):
        return "encrypted"
    if _WORD.match(_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)):
        return "word"
    if _INDIRECT.search(value):
        return "reference"
    if hash_like(value):
        return "hash"
    if uuid_like(value):
        return "uuid"
    if _DATA.match(value):
        return "data"
    if _NOT_VALUE.match(value):
        return "path-or-number"
    if sequential(value):
        return "sequential"
    bits = entropy(value)
    if bits < 2.5 or (bits < 3.0 and _classes(value) < 3):   # short random passwords mix classes
        return "low-entropy"
    return None


def _classes(value: str) -> int:
    return sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit,
                                                        lambda c: not c.isalnum()))


# Documented example values (vendor docs, RFCs, jwt.io, emulators): kept as hashes so the tree has no
# token-shaped literals. Reported only with --show-suppressed.
_EXAMPLE_SHA256 = {
    "0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059",  # Azurite/Azure Storage emulator account key
    "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",  # Stripe docs test key
    "f2d6ca16515033e5dce14eba840b979d27b5cbae24bb3e5bf484339667f86397",  # Stripe docs test key (older)
    "3543c50b0cb9cea8e55eb1f529b79f043cb250d485fde7b66cabbb5183add7da",  # GitHub docs example token
    "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",  # jwt.io default HS256 token
    "f0386f9be1fe905fb2f97a8daff11a9baa9988ceca7c2ecae4aec8db182db1b4",  # gcloud SDK's published OAuth client secret
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def example_value(secret: str) -> bool:
    """A value vendors publish as an example: AWS's `...EXAMPLE` keys, the Azurite key, Stripe's doc key."""
    if secret.endswith("EXAMPLE") or secret.endswith("EXAMPLEKEY") or "EXAMPLE" in secret:
        return True
    return _sha(secret) in _EXAMPLE_SHA256


# published code: what a package registry shipped is public, its keys are test keys (but see below)
_VENDORED = re.compile(
    r"(^|/)(node_modules|bower_components|vendor|site-packages|dist-packages|\.?venv/lib)/"
    r"|^usr/(local/)?lib/python[0-9.]+/|^usr/local/go/|^usr/(share|lib)/go(-[0-9.]+)?/"
    # the other package managers' trees: Go's module cache, Cargo's registry, installed Ruby gems,
    # Maven/Gradle/NuGet caches, and Debian's own trees of packaged JavaScript, Go, Ruby, PHP, Perl
    r"|(^|/)(pkg/mod|\.cargo/(registry|git)|\.m2/repository|\.gradle/caches|\.nuget/packages|vendor_ruby)/"
    r"|(^|/)gems/[^/]+-[0-9][^/]*/|^usr/(share|lib)/(nodejs|gocode|php|perl5?|ruby)/|^usr/local/lib/ruby/"
    r"|^usr/lib/[^/]+-linux-gnu[^/]*/perl5?/"
    # package managers' download caches: what they fetched from the registry, byte for byte
    r"|(^|/)(\.npm/_cacache|\.cache/(pip|pypoetry|yarn|composer)|\.ivy2/cache)/|^opt/conda/pkgs/")
# generated in the image itself, not published: a build cache can inline the build's environment
_LOCAL_CACHE = re.compile(r"(^|/)node_modules/\.cache/")
_VENDORED_TEST = re.compile(r"(?i)/(?:[^/]*test[^/]*|spec|specs|fixtures?|__fixtures__|__mocks__|mocks?|examples?|"
                            r"samples?|demos?|docs?)/")
_ALLOW_PATHS = re.compile(
    r"(^|/)(test|tests|__tests__|spec)/(fixtures?|data|certdata)/|(^|/)testdata/|(^|/)__fixtures__/"
    r"|^usr/share/(doc|man|info|locale|licenses|common-licenses|help)/|^usr/include/"
    r"|^usr/share/(zsh|bash-completion|fish)/"
    r"|\.md$|\.rst$|\.dist-info/|\.egg-info/|\.(example|sample|template|tmpl|dist)$"
    r"|(^|/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Pipfile\.lock|poetry\.lock"
    r"|go\.sum|Cargo\.lock|composer\.lock|Gemfile\.lock|uv\.lock)$")
_CREDENTIAL_FILES = re.compile(
    r"(^|/)(\.npmrc|\.pypirc|\.netrc|_netrc|\.git-credentials|\.dockercfg|\.docker/config\.json|"
    r"\.aws/credentials|\.kube/config|\.ssh/id_[^/]*|\.env)$")


def credential_file(path: str) -> bool:
    """A file whose only purpose is to hold credentials: never allowlisted by path."""
    return bool(_CREDENTIAL_FILES.search(path))


def allowlisted_path(path: str, verified: bool = False) -> str | None:
    """Why a path's findings are vendored/test/doc material (suppressed by default), or None.

    A package's files are published, so a key in them is a test key; `verified` findings (a token
    whose checksum proves the issuer's format) are still reported there unless the package keeps
    them in a test, example or docs directory: a live token in node_modules is a leak."""
    if credential_file(path):
        return None
    m = _VENDORED.search(path)
    if m and not _LOCAL_CACHE.search(path) and not (verified and not _VENDORED_TEST.search(path[m.end() - 1:])):
        return f"path matches {m.group(0).strip('/')!r}"
    m = _ALLOW_PATHS.search(path)
    return f"path matches {m.group(0).strip('/')!r}" if m else None


def basename(path: str) -> str:
    """The last path component."""
    return posixpath.basename(path)
