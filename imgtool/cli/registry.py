"""`imgtool registry ...`: the registry's own command group (registry/cli.py), mounted here."""

import typer

from registry.cli import group


def register(app: typer.Typer) -> None:
    """Add the registry's commands to the top-level app."""
    app.add_typer(group, name="registry")
