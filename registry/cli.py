"""The registry's commands: serve, gc, gen-cert, htpasswd.

Mounted by the top-level CLI as `imgtool registry ...` and run alone as `python -m registry ...`;
it lives here, inside the registry package, so the registry never imports upward into imgtool's CLI.
Thin on purpose: flags become a `registry.config.Config`, the work happens in the other modules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

group = typer.Typer(
    name="registry",
    help="The bundled OCI distribution registry (docs/registry.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain usage errors, as the top-level imgtool app prints them
)


_CONFIG = typer.Option(None, "--config", help="TOML file with Config fields (flags override it).")
_ROOT = typer.Option(None, "--root", help="Storage directory.")


@group.command()
def serve(
    config_file: Optional[Path] = _CONFIG,
    addr: Optional[str] = typer.Option(None, "--addr", help="HOST:PORT to listen on (default 127.0.0.1:5000)."),
    root: Optional[Path] = _ROOT,
    htpasswd: Optional[Path] = typer.Option(None, "--htpasswd", help="bcrypt htpasswd file: enables auth."),
    token_key: Optional[Path] = typer.Option(
        None, "--token-key", help="PEM private key (EC P-256/RSA): token auth with a built-in /token endpoint."
    ),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="PEM certificate (with --tls-key)."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    read_only: bool = typer.Option(False, "--read-only", help="Refuse pushes and deletes."),
    anonymous_pull: bool = typer.Option(False, "--anonymous-pull", help="Allow pulls without credentials."),
    auto_mount: bool = typer.Option(False, "--auto-mount", help="Mount without from= (content discovery)."),
    gc_interval: Optional[float] = typer.Option(None, "--gc-interval", help="Run GC every SECONDS (0: never)."),
) -> None:
    """Serve the registry until interrupted."""
    from registry import config, server

    cfg = config.load(
        config_file, addr=addr, root=root, htpasswd=htpasswd, token_key=token_key, tls_cert=tls_cert,
        tls_key=tls_key, read_only=read_only or None, anonymous_pull=anonymous_pull or None,
        auto_mount=auto_mount or None, gc_interval=gc_interval,
    )
    server.run(cfg)


@group.command()
def gc(
    config_file: Optional[Path] = _CONFIG,
    root: Optional[Path] = _ROOT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be removed, remove nothing."),
    grace: Optional[float] = typer.Option(
        None, "--grace", help="Keep anything used in the last SECONDS (default: config gc_grace, 3600)."
    ),
) -> None:
    """Remove blobs no manifest references (safe while the servers run, on any backend)."""
    from registry import config, gc as collector
    from registry.storage import open_storage

    cfg = config.load(config_file, root=root, gc_grace=grace)
    if cfg.storage == "filesystem" and not cfg.root.is_dir():
        raise config.ConfigError(f"registry root {cfg.root} does not exist")
    report = collector.run(open_storage(cfg), cfg, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for repository, digest in report.unlinked:
        typer.echo(f"{verb} link {repository}@{digest}")
    for digest in report.deleted:
        typer.echo(f"{verb} blob {digest}")
    typer.echo(report.summary(verb))


@group.command("gen-cert")
def gen_cert(
    cert: Path = typer.Option(..., "--cert", help="Where to write the PEM certificate."),
    key: Path = typer.Option(..., "--key", help="Where to write the PEM private key (mode 0600)."),
    host: list[str] = typer.Option(["localhost", "127.0.0.1"], "--host", help="DNS name or IP (repeatable)."),
    days: int = typer.Option(365, "--days", min=1, help="Validity in days."),
) -> None:
    """Make a self-signed certificate (EC P-256; the key also works as --token-key)."""
    from registry import tlscert

    tlscert.generate(cert, key, host, days)
    typer.echo(f"wrote {cert} and {key}")


@group.command()
def htpasswd(
    file: Path = typer.Argument(..., help="htpasswd file to create or update."),
    user: str = typer.Argument(..., help="User name."),
) -> None:
    """Add or replace USER in an htpasswd file with a bcrypt hash of the password read from stdin."""
    from registry.auth.htpasswd import hash_password
    from registry.config import ConfigError

    password = sys.stdin.readline().rstrip("\n")
    if not password or ":" in user or not user:
        raise ConfigError("need a user name without ':' and a non-empty password on stdin")
    lines = [ln for ln in (file.read_text().splitlines() if file.exists() else []) if not ln.startswith(user + ":")]
    lines.append(f"{user}:{hash_password(password)}")
    file.write_text("\n".join(lines) + "\n")
