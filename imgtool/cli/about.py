"""`imgtool version`, `imgtool info` and `imgtool completion`: what this imgtool is and where it runs.

`info` answers the questions a bug report needs first (docker info's role): which store, which
runtime, which cgroup layout, whether overlayfs and the container network work here, and whether
the user has the privileges that running containers needs.
"""

import os
import shutil
from pathlib import Path

import typer


def version() -> None:
    """Print imgtool's version (also `imgtool --version`)."""
    from imgtool import __version__

    typer.echo(f"imgtool version {__version__}")


def _cgroup_layout() -> str:
    from imgtool.runtime import cgroups

    if cgroups.is_unified():
        return "v2 (unified)"
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    return "v1 (hybrid: v2 mounted at /sys/fs/cgroup/unified)" if unified.exists() else "v1"


def _overlay(root: Path) -> str:
    if os.geteuid() != 0:
        return "unknown (needs root)"
    from imgtool.runtime.snapshots import overlay_supported

    root.mkdir(parents=True, exist_ok=True)
    return "yes" if overlay_supported(root) else "no (layers are copied instead)"


def info(format: str = typer.Option("table", "--format", "-f", help="table or json.")) -> None:
    """Show the store root, runtime, cgroup layout, overlay support and network backend (docker info)."""
    import json

    from imgtool import __version__
    from imgtool.store.store import default_root

    root = default_root()
    facts = {
        "Version": __version__,
        "StoreRoot": str(root),
        "Runtime": "imgtool (built in); also " + (", ".join(r for r in ("runc", "crun") if shutil.which(r)) or "none"),
        "CgroupLayout": _cgroup_layout(),
        "Overlay": _overlay(root),
        "Network": "slirp4netns" if shutil.which("slirp4netns") else "host or none only (install slirp4netns)",
        "Privileges": "root" if os.geteuid() == 0 else "not root: build and run need root (or user namespaces)",
    }
    if format == "json":
        typer.echo(json.dumps(facts))
        return
    for key, value in facts.items():
        typer.echo(f"{key}: {value}")


SHELLS = ("bash", "zsh", "fish")


def completion(shell: str = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the shell completion script: `imgtool completion bash > /etc/bash_completion.d/imgtool`."""
    from typer._click.shell_completion import get_completion_class
    from typer.completion import completion_init

    from imgtool.errors import ImgtoolError

    from .main import command_tree

    completion_init()
    cls = get_completion_class(shell) if shell in SHELLS else None
    if cls is None:
        raise ImgtoolError(f"completion: unknown shell {shell!r} (bash, zsh or fish)")
    typer.echo(cls(command_tree(), {}, "imgtool", "_IMGTOOL_COMPLETE").source())


def register(app: typer.Typer) -> None:
    """Add version, info and completion to the top-level app."""
    app.command()(version)
    app.command()(info)
    app.command()(completion)
