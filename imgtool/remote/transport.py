"""HTTP to one registry host: scheme and TLS choice, auth on 401, retries with backoff.

https by default, as docker does; plain http only for localhost/127.0.0.1 (tried first there, https
second) or when the user says `--insecure`/`--tls-verify=false` (https first, http the fallback). A private CA
comes from `--cert-dir` or docker's `/etc/docker/certs.d/HOST/` (`*.crt`, `client.cert`/`client.key`).
Requests that can be repeated are retried on 429/5xx and dropped connections, waiting longer each
time (honouring `Retry-After`); a refused connection on the first contact fails at once, so a server
that is down is one line, not a minute of retries.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import requests
import urllib3

from imgtool.errors import AuthError, RegistryError

from .auth import Authenticator
from .bodies import read_capped
from .credentials import CredentialStore
from .options import Options, is_local

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# what is kept of an answer nobody streams (an error's JSON, a PUT's confirmation): requests read
# such bodies whole, so a registry answering a HEAD or a PUT with an endless body filled memory
ANSWER_LIMIT = 64 << 10
USER_AGENT = "imgtool/0.1 (+https://github.com/opencontainers/distribution-spec)"
_CERTS_D = Path("/etc/docker/certs.d")
_MAX_WAIT = 30.0
MAX_REDIRECTS = 10  # docker's and Go's net/http limit; requests' default (30) only delays the error


def _errors_of(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        parts = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        parts = []
    return "; ".join(parts)[:300] or f"HTTP {response.status_code} {response.reason}"


def _retry_after(response: requests.Response | None, attempt: int, backoff: float) -> float:
    wait = backoff * (2 ** attempt)
    if response is not None:
        try:
            wait = max(wait, float(response.headers.get("Retry-After", "")))
        except ValueError:
            pass
    return min(wait, _MAX_WAIT)


class _Session(requests.Session):
    """A Session whose own `verify` (a --cert-dir bundle, or False) wins over $REQUESTS_CA_BUNDLE,
    which requests would otherwise prefer to it; it follows at most MAX_REDIRECTS redirects, and
    only to http(s): a registry (or anything it redirects to) is an untrusted peer, and a
    `Location: file:///...` or a loop must end in one line, not a traceback from requests."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS  # (requests sets its own on the instance)

    def get_redirect_target(self, resp):  # type: ignore[no-untyped-def]
        target = super().get_redirect_target(resp)
        if target is not None and urlsplit(target).scheme.lower() not in ("", "http", "https"):
            raise RegistryError(f"{resp.url}: redirect to {target[:200]!r} refused: only http(s) is followed")
        return target

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


class Client:
    """One registry host: a keep-alive session, its auth state, and the scheme that answered."""

    def __init__(self, host: str, options: Options | None = None):
        self.host = host
        self.options = options or Options()
        credential = self.options.credential or CredentialStore(self.options.authfile).get(host)
        self.auth = Authenticator(host, credential)
        self.session = _Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=self.options.parallel + 4)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = True
        self._configure_tls()
        self._base: str | None = None
        self._lock = threading.Lock()

    # -- TLS -------------------------------------------------------------------------------------
    def _configure_tls(self) -> None:
        if not self.options.tls_verify:
            self.session.verify = False
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            return
        cert_dir = self.options.cert_dir or (_CERTS_D / self.host)
        if not cert_dir.is_dir():
            return
        cas = sorted(cert_dir.glob("*.crt"))
        if cas:
            bundle = tempfile.NamedTemporaryFile("wb", prefix="imgtool-ca-", suffix=".pem", delete=False)
            with bundle:
                for ca in cas:
                    bundle.write(ca.read_bytes() + b"\n")
            self._bundle = Path(bundle.name)
            self.session.verify = bundle.name
        cert, key = cert_dir / "client.cert", cert_dir / "client.key"
        if cert.exists() and key.exists():
            self.session.cert = (str(cert), str(key))

    def close(self) -> None:
        """Drop connections and the CA bundle written for this client."""
        self.session.close()
        bundle = getattr(self, "_bundle", None)
        if bundle is not None:
            bundle.unlink(missing_ok=True)

    # -- scheme ----------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        """`https://host` or (allowed and needed) `http://host`, found by pinging `/v2/` once."""
        with self._lock:
            if self._base is None:
                self._base = self._ping()
            return self._base

    def _ping(self) -> str:
        # loopback: plain http first (no TLS set-up cost on the common local registry), then https;
        # --insecure/--tls-verify=false elsewhere: https first, then http
        if is_local(self.host):
            schemes = ["http", "https"]
        elif self.options.insecure or not self.options.tls_verify:
            schemes = ["https", "http"]
        else:
            schemes = ["https"]
        last: Exception | None = None
        answer: requests.Response | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                r = self._settle(self.session.get(url, timeout=self.options.timeout, stream=True), "GET", url)
            except (requests.exceptions.SSLError, requests.exceptions.ConnectionError) as exc:
                last = exc
                continue
            except requests.exceptions.Timeout:
                raise RegistryError(f"registry {self.host} did not answer within {self.options.timeout:.0f} s") from None
            except requests.exceptions.TooManyRedirects:
                raise RegistryError(f"registry {self.host}: GET {url}: more than {MAX_REDIRECTS} redirects") from None
            r.close()
            if r.status_code == 401:
                self.auth.refused(r, set())
            if r.status_code in (200, 401):  # what a registry answers; anything else may be the wrong scheme
                return f"{scheme}://{self.host}"
            answer = answer or r
        if answer is not None:
            raise RegistryError(f"registry {self.host}: GET /v2/ answered {_errors_of(answer)}")
        if isinstance(last, requests.exceptions.SSLError):
            raise RegistryError(f"registry {self.host}: TLS failed ({_ssl_reason(last)}); "
                                "use --cert-dir for a private CA or --tls-verify=false") from None
        raise RegistryError(f"cannot reach registry {self.host}: {_connect_reason(last)}") from None

    # -- requests --------------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        """Absolute URL for an API path or a Location header (relative or absolute); a Location
        with any other scheme (`file:`, `ftp:`) is refused rather than glued onto the base."""
        scheme = urlsplit(path_or_url).scheme.lower()
        if scheme in ("http", "https"):
            return path_or_url
        if scheme:
            raise RegistryError(f"registry {self.host}: Location {path_or_url[:200]!r} refused: only http(s) is followed")
        return self.base + path_or_url

    def same_origin(self, url: str) -> bool:
        """Is `url` on the registry itself? Only there do credentials go: an upload `Location` may
        name another host (a storage backend, or a hostile registry fishing for tokens), and docker
        and containerd never send a registry's Authorization anywhere else (oras-go's 2026 bug)."""
        return urlsplit(url).netloc.lower() == urlsplit(self.base).netloc.lower()

    def request(self, method: str, path_or_url: str, scopes: Iterable[str] = (), *,
                body: bytes | Callable[[], Any] | None = None, retry: bool = True,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """Send with auth; retry idempotent failures. `body` may be a factory (called per attempt)."""
        wanted = set(scopes)
        url = self.url(path_or_url)
        timeout = kwargs.pop("timeout", self.options.timeout)
        stream = kwargs.pop("stream", False)
        auth_tries = 0
        attempt = 0
        while True:
            hdrs = dict(headers or {})
            authorization = self.auth.header(self.session, wanted) if self.same_origin(url) else None
            if authorization:
                hdrs["Authorization"] = authorization
            data = body() if callable(body) else body
            try:
                r = self.session.request(method, url, headers=hdrs, data=data,
                                         timeout=timeout, stream=True, **kwargs)
                if not stream:
                    r = self._settle(r, method, url)
            except requests.exceptions.TooManyRedirects:
                raise RegistryError(f"registry {self.host}: {method} {url}: more than {MAX_REDIRECTS} redirects") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if not retry or attempt >= self.options.retries:
                    raise RegistryError(f"registry {self.host}: {method} failed: {_connect_reason(exc)}") from None
                time.sleep(_retry_after(None, attempt, self.options.backoff))
                attempt += 1
                continue
            if r.status_code == 401 and auth_tries < 2 and self.auth.refused(r, wanted):
                auth_tries += 1
                r.close()
                continue
            if r.status_code == 401:
                r.close()
                if self.auth.credential is None:
                    raise AuthError(f"{self.host}: authentication required (run `imgtool login {self.host}`)")
                if self.auth.challenge is not None and self.auth.challenge.scheme == "basic":
                    raise AuthError(f"{self.host}: unauthorized: wrong username or password")
                raise AuthError(f"{self.host}: unauthorized: {_errors_of(r)}")
            if r.status_code in RETRY_STATUS and retry and attempt < self.options.retries:
                time.sleep(_retry_after(r, attempt, self.options.backoff))
                r.close()
                attempt += 1
                continue
            return r

    def _settle(self, response: requests.Response, method: str, url: str) -> requests.Response:
        """Read an answer nobody streams as `read_capped` reads documents (ANSWER_LIMIT, a stall
        timeout, a deadline), so that `.content` and `.json()` work on what was kept."""
        response._content = read_capped(response, ANSWER_LIMIT, f"registry {self.host}: {method} {url[:200]}",
                                        self.options.timeout, truncate=True)
        return response

    def fail(self, response: requests.Response, what: str) -> RegistryError:
        """The one-line error for an unexpected answer (the caller raises it)."""
        if response.status_code == 403:
            return AuthError(f"{self.host}: {what}: denied: {_errors_of(response)}")
        return RegistryError(f"{self.host}: {what}: {_errors_of(response)}")


def _connect_reason(exc: Exception | None) -> str:
    text = str(exc) if exc else ""
    for needle, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "unknown host"),
                           ("Temporary failure in name resolution", "unknown host"),
                           ("timed out", "timed out"), ("Connection reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed by the server")):
        if needle in text:
            return reason
    return type(exc).__name__ if exc else "no answer"


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    if "WRONG_VERSION_NUMBER" in text:
        return "the server does not speak TLS"
    return "handshake failed"
