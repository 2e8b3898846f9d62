"""The `imgtool` entry point: assembles the command groups and turns ImgtoolError into one line.

Each group module exposes `register(app)`, so a new capability (build, runtime, registry, ...) adds
its commands without editing the others.
"""

import os
import sys

import typer

from imgtool.errors import ImgtoolError

from . import about, build, container_views, containers, debug, helptext, images, inspection, registry, remote, runtime

app = typer.Typer(
    name="imgtool",
    help="A daemonless container image toolkit: build, ship, run and inspect OCI images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        about.version()
        raise typer.Exit()


@app.callback()
def _main(_version: bool = typer.Option(False, "--version", "-v", is_eager=True, callback=_print_version,
                                         help="Print the version and exit.")) -> None:
    """A daemonless container image toolkit: build, ship, run and inspect OCI images."""


for _group in (about, build, images, inspection, debug, runtime, containers, container_views, registry, remote):
    _group.register(app)


def command_tree():
    """The click command tree, polished for reading (metavars, -h, examples): built once per process."""
    global _tree
    if _tree is None:
        _tree = typer.main.get_command(app)
        helptext.polish(_tree)
    return _tree


_tree = None


def run() -> None:
    """Console-script entry: user mistakes become one line and a non-zero exit, as docker's.

    Usage errors (unknown flag, missing argument, bad value) print `imgtool: <what>` and a hint
    naming the command's help, and exit 125 as docker does; an ImgtoolError prints its one line
    with its own exit code.
    """
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    if "_IMGTOOL_COMPLETE" in os.environ:  # a completion script asks for candidates
        from typer.completion import completion_init

        completion_init()
    try:
        code = command_tree().main(prog_name="imgtool", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "")
        code = 0
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else helptext.command_path(command_tree(), sys.argv[1:])
        message = exc.format_message().rstrip(".")
        print(f"imgtool: {message[:1].lower()}{message[1:]}; see '{where} --help'", file=sys.stderr)
        code = 125
    except ImgtoolError as exc:
        print(f"imgtool: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
