"""Registry credentials where docker keeps them: `config.json` (`auths`, `credsStore`, `credHelpers`).

Reading an existing `~/.docker/config.json` means a user logged in with docker (or podman with
`--authfile`) is logged in for imgtool too; writing the same format (mode 0600, other keys kept)
means the reverse holds. Credential helpers are the `docker-credential-NAME get|store|erase`
programs docker runs, spoken to over stdin/stdout so a secret is never on a command line.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgtool.atomicfile import write_bytes
from imgtool.errors import AuthError, ImgtoolError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_TOKEN_USER = "<token>"  # what helpers return as Username for an identity token


@dataclass(frozen=True)
class Credential:
    """What a registry is authenticated with: a password, or an identity (refresh) token."""

    username: str
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never print a secret, even in a debugger's traceback
        return f"Credential(username={self.username!r}, password=***, identity_token=***)"


def config_path(authfile: str | Path | None = None) -> Path:
    """`--authfile`, else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    if authfile:
        return Path(authfile)
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return Path(os.environ["REGISTRY_AUTH_FILE"])
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def key_for(host: str) -> str:
    """The `auths` key docker uses for a registry host (Docker Hub keeps its v1 URL)."""
    return DOCKER_HUB_KEY if host in _HUB_HOSTS else host


def _host_of_key(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    return key.split("/", 1)[0]


class CredentialStore:
    """One docker config file and the helpers it names."""

    def __init__(self, authfile: str | Path | None = None):
        self.path = config_path(authfile)

    def _read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ImgtoolError(f"{self.path}: not a readable docker config file ({exc.__class__.__name__})") from None
        if not isinstance(doc, dict):
            raise ImgtoolError(f"{self.path}: expected a JSON object")
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # the temporary file is mkstemp's, mode 0600 from its first byte: never readable by others
        write_bytes(self.path, (json.dumps(doc, indent="\t") + "\n").encode())

    def _helper(self, doc: dict[str, Any], host: str) -> str | None:
        helpers = doc.get("credHelpers") or {}
        for key in (host, key_for(host)):
            if isinstance(helpers.get(key), str):
                return helpers[key]
        store = doc.get("credsStore")
        return store if isinstance(store, str) and store else None

    def get(self, host: str) -> Credential | None:
        """The credential for a registry host, or None when there is none (anonymous access)."""
        doc = self._read()
        helper = self._helper(doc, host)
        if helper:
            found = _run_helper(helper, "get", key_for(host), missing_ok=True)
            if found:
                user, secret = found.get("Username", ""), found.get("Secret", "")
                if user == _TOKEN_USER:
                    return Credential("", identity_token=secret)
                return Credential(user, secret)
        auths = doc.get("auths") or {}
        entry = auths.get(key_for(host))
        if entry is None:
            entry = next((v for k, v in auths.items() if _host_of_key(k) == host), None)
        if not isinstance(entry, dict):
            return None
        user = entry.get("username", "")
        password = entry.get("password", "")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise ImgtoolError(f"{self.path}: auths[{key_for(host)!r}].auth is not base64 user:password") from None
        token = entry.get("identitytoken", "")
        if not (user or password or token):
            return None
        return Credential(user, password, token)

    def store(self, host: str, credential: Credential) -> Path | str:
        """Save a credential (in the helper if one is configured); returns where it went."""
        doc = self._read()
        helper = self._helper(doc, host)
        if helper:
            secret = credential.identity_token or credential.password
            user = _TOKEN_USER if credential.identity_token else credential.username
            _run_helper(helper, "store", json.dumps({"ServerURL": key_for(host), "Username": user, "Secret": secret}))
            return f"docker-credential-{helper}"
        entry: dict[str, str] = {}
        if credential.identity_token:
            entry["auth"] = base64.b64encode(f"{credential.username}:".encode()).decode()
            entry["identitytoken"] = credential.identity_token
        else:
            entry["auth"] = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
        doc.setdefault("auths", {})[key_for(host)] = entry
        self._write(doc)
        return self.path

    def erase(self, host: str) -> bool:
        """Forget a registry's credential; False when there was none."""
        doc = self._read()
        helper = self._helper(doc, host)
        erased = False
        if helper and _run_helper(helper, "get", key_for(host), missing_ok=True):
            _run_helper(helper, "erase", key_for(host))
            erased = True
        auths = doc.get("auths") or {}
        keys = [k for k in auths if k == key_for(host) or _host_of_key(k) == host]
        for k in keys:
            del auths[k]
        if keys:
            self._write(doc)
        return erased or bool(keys)


def _run_helper(helper: str, action: str, payload: str, missing_ok: bool = False) -> dict[str, Any] | None:
    import subprocess  # only when a helper is configured: every pull and push imports this module

    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, action], input=payload.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise AuthError(f"credential helper {program} (named in the docker config) is not installed") from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"credential helper {program} {action} did not answer within 60 s") from None
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if missing_ok and "credentials not found" in (out + proc.stderr.decode(errors="replace")).lower():
            return None
        # a helper's output may echo what it was given: report only the failure itself
        raise AuthError(f"credential helper {program} {action} failed (exit {proc.returncode})")
    if action != "get":
        return None
    try:
        found = json.loads(out)
    except ValueError:
        raise AuthError(f"credential helper {program} get: output is not JSON") from None
    return found if isinstance(found, dict) else None
