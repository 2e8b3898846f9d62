"""Registry authentication: `WWW-Authenticate` challenges, Basic, and Bearer tokens cached per scope.

The flow is docker's (distribution's token spec): a request without credentials gets 401 and a
challenge; for `Basic` the credential goes on every request; for `Bearer` a token for the request's
scopes is fetched from the challenge's realm (GET with Basic credentials, or POST with a refresh
token when the user logged in with one), cached until it expires, and fetched again when a request
needs more scopes (a push after a pull, a mount from another repository).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from imgtool.errors import AuthError, RegistryError

from .bodies import read_capped
from .credentials import Credential

if TYPE_CHECKING:
    import requests

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?')
_SLACK = 10  # seconds: a token this close to expiry is fetched again rather than risked
CLIENT_ID = "imgtool"
TOKEN_LIMIT = 1 << 20  # real token answers are a few KiB; the cap keeps a hostile one out of memory
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: RFC 6750's b64token and any JWT fit


@dataclass(frozen=True)
class Challenge:
    """One parsed `WWW-Authenticate` header: scheme (lower case) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the server says the refused request needs."""
        return tuple(self.params.get("scope", "").split())


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="...",service="...",scope="..."` -> Challenge (None when unusable)."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {}
    for m in _PARAM.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return Challenge(scheme.lower(), params)


def pull_scope(repository: str) -> str:
    """The token scope that reads a repository."""
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    """The token scope that writes a repository (push implies pull: uploads check existence)."""
    return f"repository:{repository}:pull,push"


def _basic(credential: Credential) -> str:
    return "Basic " + base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()


class Authenticator:
    """Per-registry auth state, shared by every request (and thread) of one command."""

    def __init__(self, host: str, credential: Credential | None):
        self.host = host
        self.credential = credential
        self.challenge: Challenge | None = None
        self.refresh_token = ""  # set when the token server hands one out (login keeps it)
        self._tokens: dict[frozenset[str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def header(self, session: "requests.Session", scopes: Iterable[str]) -> str | None:
        """The Authorization value for a request needing `scopes` (None: send none)."""
        challenge = self.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return _basic(self.credential) if self.credential else None
        if challenge.scheme != "bearer":
            return None
        key = frozenset(scopes)
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return f"Bearer {cached[0]}"
            token, expires_in = self._fetch_token(session, challenge, key)
            self._tokens[key] = (token, time.monotonic() + max(expires_in - _SLACK, 1))
            return f"Bearer {token}"

    def refused(self, response: "requests.Response", scopes: set[str]) -> bool:
        """Learn from a 401: True if a retry with (new) credentials may succeed."""
        header = response.headers.get("WWW-Authenticate", "")
        challenge = parse_challenge(header) if header else None
        if challenge is None:
            return False
        first = self.challenge is None or self.challenge.scheme != challenge.scheme
        with self._lock:
            self.challenge = challenge
            if challenge.scheme == "bearer":
                stale = frozenset(scopes)
                grew = not set(challenge.scopes) <= scopes
                scopes.update(challenge.scopes)
                self._tokens.pop(stale, None)
                return first or grew or bool(self.credential)
        return first and self.credential is not None

    def _fetch_token(self, session: "requests.Session", challenge: Challenge,
                     scopes: frozenset[str]) -> tuple[str, int]:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{self.host}: Bearer challenge without a usable realm")
        service = challenge.params.get("service", "")
        cred = self.credential
        try:
            if cred and cred.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": cred.identity_token,
                        "service": service, "client_id": CLIENT_ID, "scope": " ".join(sorted(scopes))}
                r = session.post(realm, data=form, timeout=60, stream=True)
            else:
                params: list[tuple[str, str]] = [("service", service)] + [("scope", s) for s in sorted(scopes)]
                headers = {}
                if cred:
                    headers["Authorization"] = _basic(cred)
                    params += [("offline_token", "true"), ("client_id", CLIENT_ID)]
                r = session.get(realm, params=params, headers=headers, timeout=60, stream=True)
        except OSError as exc:  # requests' ConnectionError (and TooManyRedirects) are OSErrors
            raise RegistryError(f"{self.host}: cannot reach the token server {realm[:200]}: {type(exc).__name__}") from None
        if r.status_code in (401, 403):
            r.close()
            if cred:
                raise AuthError(f"{self.host}: unauthorized: wrong username or password")
            raise AuthError(f"{self.host}: authentication required (run `imgtool login {self.host}`)")
        if r.status_code != 200:
            r.close()
            raise RegistryError(f"{self.host}: token server answered {r.status_code}")
        body = read_capped(r, TOKEN_LIMIT, f"{self.host}: token server {realm[:200]}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            assert isinstance(token, str) and token
        except (ValueError, AssertionError, AttributeError):
            raise RegistryError(f"{self.host}: token server answered without a token") from None
        if not _TOKEN.fullmatch(token):  # CR/LF would end the header and inject others
            raise RegistryError(f"{self.host}: token server {realm[:200]} answered a token with "
                                "spaces or control characters")
        if isinstance(doc.get("refresh_token"), str):
            self.refresh_token = doc["refresh_token"]
        expires_in = doc.get("expires_in")
        return token, expires_in if isinstance(expires_in, int) and expires_in > 0 else 60
