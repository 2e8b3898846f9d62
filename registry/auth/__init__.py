"""Who may do what: an `Authorizer` turns a request and the access it needs into a user name.

Three policies: open (no auth configured), HTTP Basic against htpasswd, and Docker bearer tokens
from the built-in token endpoint. All share the same per-user action list (`Config.access`) and the
optional anonymous pull, so a user's rights do not depend on which scheme they use. Decisions happen
in a middleware before the handler runs, so a refused push never reads, let alone writes, its body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict

from .. import limits
from ..config import Config
from ..errors import RegistryError
from .htpasswd import Htpasswd
from .token import InvalidToken, TokenSigner, in_window, parse_scope

ALL_ACTIONS = ("pull", "push", "delete", "catalog")
USER = web.RequestKey("user", str)  # who the request runs as ("" for anonymous or no auth)
_LOGIN = web.RequestKey("auth_user", object)  # basic-auth user name, None if anonymous
_CLAIMS = web.RequestKey("auth_claims", object)  # verified token claims, None if anonymous
_TOKEN_CACHE_MAX = 4096


@dataclass(frozen=True)
class Need:
    """The access a request needs: `repository:<name>:<actions>` or `registry:catalog:*`."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


class Authorizer:
    """Open registry: everyone may do everything (the default when no auth is configured)."""

    def __init__(self, config: Config):
        self.config = config

    def granted(self, user: str | None, action: str) -> bool:
        """Whether `user` (None for anonymous) may perform `action` at all, per config."""
        if action == "*":  # the catalog's scope action (registry:catalog:*)
            action = "catalog"
        if user is None:
            return action == "pull" and self.config.anonymous_pull
        allowed = self.config.access.get(user)
        return allowed is None or action in allowed

    async def authorize(self, request: web.Request, need: Need | None, wanted: tuple[Need, ...] = ()) -> str:
        """The user performing the request; raises UNAUTHORIZED/DENIED. `need` None: just log in.
        `wanted`: access the request can do without but uses if granted (a mount's source); a
        scheme whose credentials can be narrower than their user asks for it up front."""
        return ""

    def allows(self, request: web.Request, need: Need) -> bool:
        """Whether the already-authorized request's credentials also carry `need` (e.g. pull on a
        mount's `from`)."""
        return True

    def user_allows(self, request: web.Request, need: Need) -> bool:
        """Whether the already-authorized request's user has `need` by the configured rights, even
        where its credentials are scoped narrower (what automatic content discovery goes by: its
        source repository is not known when the client asks for a token)."""
        return True


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class BasicAuthorizer(Authorizer):
    """HTTP Basic against an htpasswd file."""

    def __init__(self, config: Config, users: Htpasswd):
        super().__init__(config)
        self.users = users

    async def login(self, request: web.Request) -> str | None:
        """The authenticated user, None when no credentials were sent; raises on bad credentials."""
        creds = _basic_credentials(request)
        if creds is None:
            return None
        ok = await asyncio.get_running_loop().run_in_executor(None, self.users.check, *creds)
        if not ok:
            raise self.challenge(request, None, "invalid username or password")
        return creds[0]

    def challenge(
        self, request: web.Request, need: Need | None, message: str, error: str = ""
    ) -> RegistryError:
        """A 401 telling the client how to authenticate."""
        return RegistryError(
            "UNAUTHORIZED", message, headers={"WWW-Authenticate": 'Basic realm="imgtool-registry"'}
        )

    async def authorize(self, request: web.Request, need: Need | None, wanted: tuple[Need, ...] = ()) -> str:
        """See Authorizer.authorize (a login carries all its user's rights: nothing to ask for)."""
        user = await self.login(request)
        request[_LOGIN] = user
        if need is None:
            if user is None and not self.config.anonymous_pull:
                raise self.challenge(request, None, "authentication required")
            return user or ""
        if all(self.granted(user, a) for a in need.actions):
            return user or ""
        if user is None:
            raise self.challenge(request, need, "authentication required")
        raise RegistryError("DENIED", f"{user} may not {','.join(need.actions)} {need.name}")

    def allows(self, request: web.Request, need: Need) -> bool:
        """See Authorizer.allows."""
        return all(self.granted(request.get(_LOGIN), a) for a in need.actions)

    user_allows = allows


class TokenAuthorizer(BasicAuthorizer):
    """Bearer tokens issued by this registry's `/token` endpoint (users from htpasswd)."""

    def __init__(self, config: Config, users: Htpasswd, signer: TokenSigner):
        super().__init__(config, users)
        self.signer = signer
        self._verified: OrderedDict[str, dict] = OrderedDict()

    def challenge(
        self, request: web.Request, need: Need | tuple[Need, ...] | None, message: str, error: str = ""
    ) -> RegistryError:
        """A 401 pointing at the token endpoint with the scope(s) the request needs."""
        realm = self.config.token_realm or f"{request.scheme}://{request.host}/token"
        value = f'Bearer realm="{realm}",service="{self.config.token_service}"'
        if need:
            scopes = (need,) if isinstance(need, Need) else need
            value += f',scope="{" ".join(map(str, scopes))}"'
        if error:
            value += f',error="{error}"'
        return RegistryError("UNAUTHORIZED", message, headers={"WWW-Authenticate": value})

    def _claims(self, request: web.Request) -> dict | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = self.signer.verify(token)
            except InvalidToken:
                raise self.challenge(request, None, "invalid token", "invalid_token") from None
            self._verified[token] = claims
            if len(self._verified) > _TOKEN_CACHE_MAX:
                self._verified.popitem(last=False)
        elif not in_window(claims, time.time()):
            self._verified.pop(token, None)
            raise self.challenge(request, None, "token expired", "invalid_token")
        return claims

    async def authorize(self, request: web.Request, need: Need | None, wanted: tuple[Need, ...] = ()) -> str:
        """See Authorizer.authorize. `wanted` goes into every challenge's scope, and a token that
        lacks it while its user would be given it gets 401 insufficient_scope: distribution does the
        same for a mount's `from`, and clients (the conformance suites' included) retry only once,
        with the scope of the challenge."""
        claims = self._claims(request)
        request[_CLAIMS] = claims
        scopes = (need, *wanted) if need is not None else ()
        if claims is None:
            if self.config.anonymous_pull and (need is None or need.actions == ("pull",)):
                return ""
            raise self.challenge(request, scopes, "authentication required")
        user = str(claims.get("sub", ""))
        if need is not None and not self.allows(request, need):
            raise self.challenge(request, scopes, f"token does not grant {need}", "insufficient_scope")
        missing = [w for w in wanted if not self.allows(request, w)]
        if user and missing and all(self.granted(user, a) for w in missing for a in w.actions):
            raise self.challenge(request, scopes, f"token does not grant {missing[0]}", "insufficient_scope")
        return user

    def allows(self, request: web.Request, need: Need) -> bool:
        """See Authorizer.allows: every needed action must be in one of the token's access entries."""
        claims = request.get(_CLAIMS)
        if claims is None:
            return self.config.anonymous_pull and need.actions == ("pull",)
        granted: set[str] = set()
        for entry in claims.get("access", []):
            if isinstance(entry, dict) and entry.get("type") == need.type and entry.get("name") == need.name:
                granted.update(entry.get("actions") or [])
        return "*" in granted or set(need.actions) <= granted

    def user_allows(self, request: web.Request, need: Need) -> bool:
        """See Authorizer.user_allows: the token's subject's rights; anonymous tokens only pull,
        and only with anonymous pull on."""
        claims = request.get(_CLAIMS)
        user = str(claims.get("sub") or "") if claims else ""
        return all(self.granted(user or None, a) for a in need.actions)

    async def token_endpoint(self, request: web.Request) -> web.Response:
        """GET/POST /token: grant the requested scopes the user's rights allow (Docker token spec)."""
        params = dict(request.query)
        scopes = request.query.getall("scope", [])
        if request.method == "POST":
            form = await _form(request, self.config)
            params.update(form)
            scopes += form.getall("scope", [])
            if form.get("grant_type") == "password":
                creds = (form.get("username", ""), form.get("password", ""))
                ok = await asyncio.get_running_loop().run_in_executor(None, self.users.check, *creds)
                if not ok:
                    raise self.challenge(request, None, "invalid username or password")
                user: str | None = creds[0]
            else:
                user = await self.login(request)
        else:
            user = await self.login(request)
        if params.get("service", self.config.token_service) != self.config.token_service:
            raise RegistryError("DENIED", "unknown service", status=400)
        access = []
        for scope in " ".join(scopes).split():
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            kind, name, actions = parsed
            if kind == "registry" and name == "catalog":
                ok_actions = ["*"] if self.granted(user, "catalog") else []
            else:
                ok_actions = [a for a in dict.fromkeys(actions) if a in ALL_ACTIONS and self.granted(user, a)]
            if ok_actions:
                access.append({"type": kind, "name": name, "actions": ok_actions})
        token, issued, ttl = self.signer.issue(user or "", access)
        issued_at = datetime.fromtimestamp(issued, timezone.utc)
        return web.json_response(
            {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued_at.isoformat()}
        )


_FORM_MAX = 64 << 10  # a token request is a few scopes and a password


async def _form(request: web.Request, config: Config) -> MultiDict[str]:
    """The OAuth2 form of a POST to /token (RFC 6749 §4.3: urlencoded, nothing else), read with the
    limits of every other body: aiohttp's `request.post()` waited for up to 1 MiB with no timeout
    (a slowloris held it forever) and was a 500 on a malformed multipart body."""
    data = await limits.body(request, config, _FORM_MAX, "token request")
    if request.content_type != "application/x-www-form-urlencoded":
        return MultiDict()
    return MultiDict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))


def build(config: Config) -> Authorizer:
    """The authorizer the configuration asks for."""
    if config.htpasswd is None:
        return Authorizer(config)
    users = Htpasswd(config.htpasswd)
    if config.token_key is None:
        return BasicAuthorizer(config, users)
    signer = TokenSigner(config.token_key, config.token_issuer, config.token_service, config.token_ttl)
    return TokenAuthorizer(config, users, signer)
