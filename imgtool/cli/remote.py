"""Registry commands with docker's and skopeo's words: push, pull, login, logout, copy, referrers."""

import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from imgtool.errors import AuthError, ImgtoolError

if TYPE_CHECKING:
    from imgtool.remote import Options

_TLS = typer.Option("true", "--tls-verify", metavar="BOOL",
                    help="Require https with a verified certificate (false: allow http, skip checks).")
_INSECURE = typer.Option(False, "--insecure", help="Allow plain http and unverified TLS for any registry.")
_CERT_DIR = typer.Option(None, "--cert-dir", help="Directory with *.crt (CA) and client.cert/client.key.")
_AUTHFILE = typer.Option(None, "--authfile", help="Docker config file with credentials (default ~/.docker/config.json).")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress output; print only the result (name or digest).")
_PLATFORM = typer.Option(None, "--platform", help="os/arch[/variant] to take from a multi-platform image.")
_ALL = typer.Option(False, "--all-platforms", "--all", "-a", help="Every platform of a multi-platform image.")


def _bool(value: str, flag: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ImgtoolError(f"{flag} {value!r}: expected true or false")


def _options(tls_verify: str, insecure: bool, cert_dir: Optional[Path], authfile: Optional[Path]) -> "Options":
    from imgtool.remote import Options

    verify = _bool(tls_verify, "--tls-verify") and not insecure
    return Options(tls_verify=verify, insecure=insecure or not verify, cert_dir=cert_dir, authfile=authfile)


def _choice(platform: Optional[str], all_platforms: bool):
    from imgtool.remote import PlatformChoice

    if platform and all_platforms:
        raise ImgtoolError("--platform and --all-platforms exclude each other")
    if not platform:
        return PlatformChoice(None, all_platforms)
    from imgtool.store.image import parse_platform  # the config model, ~4 ms: only for --platform

    return PlatformChoice(parse_platform(platform), all_platforms)


def _store():
    from imgtool.store import Store

    return Store.open()


def pull(
    ref: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]"),
    platform: Optional[str] = _PLATFORM, all_platforms: bool = _ALL, quiet: bool = _QUIET,
    tls_verify: str = _TLS, insecure: bool = _INSECURE, cert_dir: Optional[Path] = _CERT_DIR,
    authfile: Optional[Path] = _AUTHFILE,
) -> None:
    """Pull an image from a registry into the store (docker pull)."""
    from imgtool import remote
    from imgtool.remote.progress import for_terminal

    progress = for_terminal(quiet)
    try:
        root, name = remote.pull(_store(), ref, _options(tls_verify, insecure, cert_dir, authfile),
                                 _choice(platform, all_platforms), progress)
    finally:
        progress.close()
    if not quiet:
        typer.echo(f"Digest: {root.digest}")
        typer.echo(f"Status: Downloaded image for {name.familiar_tagged}")
    typer.echo(str(name))


def push(
    name: str = typer.Argument(..., metavar="NAME[:TAG]"),
    dest: Optional[str] = typer.Argument(None, metavar="[DESTINATION]", help="docker://REF or REF (default: NAME)."),
    quiet: bool = _QUIET, tls_verify: str = _TLS, insecure: bool = _INSECURE,
    cert_dir: Optional[Path] = _CERT_DIR, authfile: Optional[Path] = _AUTHFILE,
) -> None:
    """Push a store image to a registry (docker push; DESTINATION as in podman push)."""
    from imgtool import remote
    from imgtool.remote.progress import for_terminal

    progress = for_terminal(quiet)
    target = dest.removeprefix("docker://") if dest else None
    try:
        root, where = remote.push(_store(), name, target, _options(tls_verify, insecure, cert_dir, authfile), progress)
    finally:
        progress.close()
    if quiet:  # docker push -q prints the reference it pushed
        typer.echo(str(where))
    else:
        typer.echo(f"{where.tag or where.digest}: digest: {root.digest} size: {root.size}")


def copy(
    src: str = typer.Argument(..., metavar="SOURCE"),
    dst: str = typer.Argument(..., metavar="DESTINATION"),
    platform: Optional[str] = _PLATFORM, all_platforms: bool = _ALL, quiet: bool = _QUIET,
    tls_verify: str = _TLS, insecure: bool = _INSECURE, cert_dir: Optional[Path] = _CERT_DIR,
    authfile: Optional[Path] = _AUTHFILE,
) -> None:
    """Copy an image between transports (skopeo copy): docker://REF, oci:DIR[:NAME],
    oci-archive:FILE[:NAME], docker-archive:FILE[:NAME], docker-daemon:NAME, or a store name."""
    from imgtool.remote import copy as copy_image
    from imgtool.remote import transports
    from imgtool.remote.progress import for_terminal

    options = _options(tls_verify, insecure, cert_dir, authfile)
    progress = for_terminal(quiet)
    source = transports.source(src, options=options)
    try:
        destination = transports.destination(dst, options=options)
        try:
            root = copy_image(source, destination, _choice(platform, all_platforms), progress, options.parallel)
        finally:
            destination.close()
    finally:
        source.close()
        progress.close()
    typer.echo(str(root.digest))


def _host(registry: Optional[str]) -> str:
    from imgtool.oci import reference

    if not registry:
        return reference.DEFAULT_REGISTRY
    host = registry.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if not host or " " in host:
        raise ImgtoolError(f"{registry!r}: not a registry host")
    return reference.DEFAULT_REGISTRY if host in ("index.docker.io", "registry-1.docker.io") else host


def login(
    registry: Optional[str] = typer.Argument(None, metavar="[SERVER]"),
    username: Optional[str] = typer.Option(None, "--username", "-u"),
    password: Optional[str] = typer.Option(None, "--password", "-p", help="Insecure: visible in the process list."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    tls_verify: str = _TLS, insecure: bool = _INSECURE, cert_dir: Optional[Path] = _CERT_DIR,
    authfile: Optional[Path] = _AUTHFILE,
) -> None:
    """Log in to a registry; credentials go where docker keeps them (config.json, 0600, or its helper)."""
    from imgtool.remote import login as do_login

    host = _host(registry)
    if password is not None and password_stdin:
        raise ImgtoolError("--password and --password-stdin are mutually exclusive")
    if password is not None:
        typer.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
    if password_stdin:
        if not username:
            raise ImgtoolError("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if username is None or password is None:
        if not sys.stdin.isatty():
            raise ImgtoolError("cannot perform an interactive login from a non TTY device (use --password-stdin)")
        username = username or input("Username: ").strip()
        password = getpass.getpass("Password: ")
    if not username or not password:
        raise AuthError("username and password are required")
    where = do_login(host, username, password, _options(tls_verify, insecure, cert_dir, authfile))
    typer.echo(f"Login Succeeded (credentials saved in {where})")


def logout(registry: Optional[str] = typer.Argument(None, metavar="[SERVER]"),
           authfile: Optional[Path] = _AUTHFILE) -> None:
    """Forget a registry's credentials."""
    from imgtool.remote.credentials import CredentialStore

    host = _host(registry)
    if CredentialStore(authfile).erase(host):
        typer.echo(f"Removing login credentials for {host}")
    else:
        typer.echo(f"Not logged in to {host}")


def referrers(
    ref: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]"),
    artifact_type: Optional[str] = typer.Option(None, "--artifact-type", help="Only referrers of this type."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    tls_verify: str = _TLS, insecure: bool = _INSECURE, cert_dir: Optional[Path] = _CERT_DIR,
    authfile: Optional[Path] = _AUTHFILE,
) -> None:
    """List the manifests that refer to an image (signatures, SBOMs): the OCI referrers API."""
    from imgtool.remote import referrers as list_referrers

    if fmt not in ("table", "json"):
        raise ImgtoolError(f"--format {fmt!r}: expected table or json")
    index = list_referrers(ref.removeprefix("docker://"), artifact_type,
                           _options(tls_verify, insecure, cert_dir, authfile))
    if fmt == "json":
        typer.echo(json.dumps([m.to_dict() for m in index.manifests], indent=2))
        return
    rows = [["DIGEST", "ARTIFACT TYPE", "MEDIA TYPE", "SIZE"]]
    rows += [[str(m.digest), m.artifact_type or "", m.media_type, str(m.size)] for m in index.manifests]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        typer.echo("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def register(app: typer.Typer) -> None:
    """Add the registry-client commands to the top-level app."""
    for command in (pull, push, copy, login, logout, referrers):
        app.command()(command)
