"""The `imgtool` entry point: the top-level command group, and ImgtoolError turned into one line.

Each command module exposes `register(app)`, so a new capability (build, runtime, registry, ...) adds
its commands without editing the others; `GROUPS` names those modules. The group is lazy
(cli/lazy.py): a call imports only the module of the command it runs, and `--help` none of them.
"""

import os
import sys
import threading

import typer

from imgtool.errors import ImgtoolError

from . import helptext
from .lazy import LazyGroup

# the command modules, in the order their commands are listed (after a change: scripts/cli-reference.py)
GROUPS = tuple(f"imgtool.cli.{m}" for m in ("about", "build", "images", "inspection", "debug", "runtime",
                                             "containers", "container_views", "registry", "remote"))

app = typer.Typer(
    name="imgtool",
    help="A daemonless container image toolkit: build, ship, run and inspect OCI images.",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from . import about

        about.version()
        raise typer.Exit()


@app.callback()
def _main(_version: bool = typer.Option(False, "--version", "-v", is_eager=True, callback=_print_version,
                                         help="Print the version and exit.")) -> None:
    """A daemonless container image toolkit: build, ship, run and inspect OCI images."""


def root() -> LazyGroup:
    """The top-level click group, polished for reading (metavars, -h): built once per process; its
    commands are loaded as they are used."""
    global _root
    if _root is None:
        _root = typer.main.get_command(app)
        helptext.polish(_root)
    return _root


_root = None


def command_tree() -> LazyGroup:
    """The whole command tree, every command loaded (for walking it: the help test, the CLI reference)."""
    return root().load_all()


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
        code = root().main(prog_name="imgtool", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "")
        code = 0
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else helptext.command_path(root(), sys.argv[1:])
        message = exc.format_message().rstrip(".")
        print(f"imgtool: {message[:1].lower()}{message[1:]}; see '{where} --help'", file=sys.stderr)
        code = 125
    except ImgtoolError as exc:
        print(f"imgtool: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    _exit(code if isinstance(code, int) else 0)


def _exit(code: int) -> None:
    """End the process as `sys.exit` would, minus the interpreter's teardown when nothing needs it.

    Why: tearing down every module and object at exit is ~10-15 ms of a short command (a cached
    `imgtool build` spends ~100 ms of CPU in all; docs/benchmarks.md, Build), and none of it is
    observable. What a normal exit does that is observable is kept, in its order: atexit handlers
    run (weakref finalizers, logging's flush), then stdout and stderr are flushed, a failing flush
    giving Python's own status 120. Only when the main thread is the last one (a normal exit would
    wait for a live non-daemon thread) and the streams flush now (a closed pipe is reported by the
    ordinary `sys.exit`, before any atexit handler ran, so none runs twice).
    """
    if threading.active_count() > 1 or not _flushed():
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    os._exit(code if _flushed() else 120)


def _flushed() -> bool:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return False
    return True
