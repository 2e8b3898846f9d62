"""The `imgtool` entry point: assembles the command groups and turns ImgtoolError into one line.

Each group module exposes `register(app)`, so a new capability (build, runtime, registry, ...) adds
its commands without editing the others.
"""

from __future__ import annotations

import sys

import typer

from imgtool.errors import ImgtoolError

from . import build, container_views, containers, debug, images, inspection, registry, remote, runtime

app = typer.Typer(
    name="imgtool",
    help="A daemonless container image toolkit: build, ship, run and inspect OCI images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

@app.callback()
def _main() -> None:
    """A daemonless container image toolkit: build, ship, run and inspect OCI images."""


for _group in (build, images, inspection, debug, runtime, containers, container_views, registry, remote):
    _group.register(app)


@app.command()
def version() -> None:
    """Print imgtool's version."""
    from imgtool import __version__

    typer.echo(f"imgtool {__version__}")


def run() -> None:
    """Console-script entry: user mistakes become `imgtool: message` and a non-zero exit."""
    try:
        app()  # standalone mode: usage errors are printed by click itself, exit 2
    except ImgtoolError as exc:
        print(f"imgtool: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
