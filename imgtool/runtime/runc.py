"""`imgtool-runc` (and `imgtool runtime`): runc's command line over imgtool's runtime.

The contract is the one containerd's go-runc, podman's conmon and CRI-O use (research
orchestrator.md): global --root/--log/--log-format/--systemd-cgroup/--debug before the verb, Go-style
flags (`--f v`, `--f=v`, `-f v`, single-dash long names), runc's error wording (callers match
"does not exist", "container not running"), exit 1 on errors (255 for a failed exec), nothing on
stdout unless the verb prints a document.

Why hand-parsed and lazily imported: the shim calls the binary several times per container, and
each call pays Python's start-up plus whatever it imports; argparse alone costs more than
runc's whole `state` call. Each verb imports only the modules it uses.
"""

from __future__ import annotations

import os
import sys

from imgtool import __version__
from imgtool.errors import ImgtoolError

from .runclog import Log

SPEC_VERSION = "1.0.2"
BOOL, STR, INT, LIST = "bool", "str", "int", "list"
GLOBALS = {"root": STR, "log": STR, "log-format": STR, "systemd-cgroup": BOOL, "debug": BOOL, "rootless": STR,
           "criu": STR, "help": BOOL, "h": "help", "version": BOOL, "v": "version"}
_CREATE = {"bundle": STR, "b": "bundle", "pid-file": STR, "console-socket": STR, "pidfd-socket": STR,
           "no-pivot": BOOL, "no-new-keyring": BOOL, "preserve-fds": INT}
VERBS = {
    "create": (_CREATE, 1),
    "run": (dict(_CREATE, detach=BOOL, d="detach", **{"keep": BOOL, "no-subreaper": BOOL}), 1),
    "start": ({}, 1), "state": ({}, 1), "pause": ({}, 1), "resume": ({}, 1),
    "kill": ({"all": BOOL, "a": "all"}, 1),
    "delete": ({"force": BOOL, "f": "force"}, 1),
    "exec": ({"process": STR, "p": "process", "pid-file": STR, "detach": BOOL, "d": "detach", "tty": BOOL,
              "t": "tty", "console-socket": STR, "pidfd-socket": STR, "cwd": STR, "env": LIST, "e": "env",
              "user": STR, "u": "user", "additional-gids": LIST, "g": "additional-gids", "cap": LIST, "c": "cap",
              "no-new-privs": BOOL, "preserve-fds": INT, "ignore-paused": BOOL, "apparmor": STR,
              "process-label": STR, "cgroup": LIST}, 1),
    "ps": ({"format": STR, "f": "format"}, 1),
    "update": ({"resources": STR, "r": "resources", "memory": STR, "memory-swap": STR,
                "memory-reservation": STR, "cpu-share": INT, "cpu-quota": INT, "cpu-period": INT,
                "cpu-burst": INT, "cpu-rt-period": INT, "cpu-rt-runtime": INT, "cpu-idle": INT,
                "cpuset-cpus": STR, "cpuset-mems": STR, "pids-limit": INT, "blkio-weight": INT}, 1),
    "events": ({"stats": BOOL, "interval": STR}, 1),
    "features": ({}, 0), "spec": ({"bundle": STR, "b": "bundle", "rootless": BOOL}, 0),
    "list": ({"format": STR, "f": "format", "quiet": BOOL, "q": "quiet"}, 0),
}
# verbs runc has and imgtool refuses to run; they still answer -h, as runc's do
_REFUSED = {"checkpoint": ({}, 1), "restore": ({}, 1)}
_HELP = {"help": BOOL, "h": "help"}
_STOP_AT_FIRST_ARG = ("exec", "ps", "kill")  # what follows the id is the command / ps or signal args
_WRAPPED = ("create", "run")  # runc returns fmt.Errorf("runc create failed: %w", err) for these


class UsageError(ImgtoolError):
    """A command line runc would not accept."""


def parse(argv: list[str], table: dict, interleaved: bool) -> tuple[dict, list[str]]:
    """Go-flag style options from `table` ({name: kind or alias}) and the positional arguments."""
    opts: dict = {}
    args: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            args.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-" or (args and not interleaved):
            args.append(arg)
            if not interleaved:
                args.extend(argv[i:])
                break
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        kind = table.get(name)
        if kind in table:  # an alias
            name, kind = kind, table[kind]
        if kind is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if kind == BOOL:
            if eq and value not in ("true", "false", "1", "0"):
                raise UsageError(f"invalid boolean value {value!r} for -{name}")
            opts[name] = not eq or value in ("true", "1")
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        if kind == INT:
            try:
                opts[name] = int(value)
            except ValueError:
                raise UsageError(f"invalid value {value!r} for flag -{name}: parse error") from None
        elif kind == LIST:
            opts.setdefault(name, []).append(value)
        else:
            opts[name] = value
    return opts, args


def version_text() -> str:
    """`--version` in runc's layout (go-runc parses the first line's `runc version ` prefix)."""
    from .seccomp import version as libseccomp

    return (f"runc version {__version__}-imgtool\ncommit: imgtool-runc {__version__}\nspec: {SPEC_VERSION}\n"
            f"go: none (Python {sys.version.split()[0]})\nlibseccomp: {libseccomp() or 'not found'}\n")


def main(argv: list[str] | None = None, prog: str = "imgtool-runc", logrus: bool = True) -> int:
    """Run one runc command line; returns the exit status (errors already reported).

    `logrus`: errors as runc's logrus lines (what orchestrators parse), or, for a person at
    `imgtool runtime`, imgtool's `prog: message`.
    """
    argv = sys.argv[1:] if argv is None else argv
    log = Log(prog, logrus=logrus)
    verb = None
    try:
        gopts, rest = parse(argv, GLOBALS, interleaved=False)
        if gopts.get("version"):
            sys.stdout.write(version_text())
            return 0
        if gopts.get("log-format", "text") not in ("text", "json"):
            raise UsageError(f"invalid log-format: {gopts['log-format']}")
        log = Log(prog, gopts.get("log"), gopts.get("log-format", "text"), bool(gopts.get("debug")), logrus)
        if gopts.get("help") or not rest:
            from .runchelp import program_help

            sys.stdout.write(program_help(prog, GLOBALS))
            return 0 if gopts.get("help") else 1
        verb, rest = rest[0], rest[1:]
        table, nargs = VERBS.get(verb, _REFUSED.get(verb, (None, 0)))
        if table is None:
            raise UsageError(f"No help topic for '{verb}'")
        opts, args = parse(rest, {**table, **_HELP}, interleaved=verb not in _STOP_AT_FIRST_ARG)
        if opts.pop("help", False):
            from .runchelp import verb_help

            sys.stdout.write(verb_help(prog, verb, table, nargs))
            return 0
        if verb in _REFUSED:
            raise UsageError(f"{verb} is not supported by imgtool's runtime (no CRIU)")
        if len(args) < nargs:
            raise UsageError(f'"{prog} {verb}" requires a container id')
        if gopts.get("root"):
            from . import state

            state.set_root(gopts["root"])
        from . import verbs

        handler = getattr(verbs, verb + "_" if verb in ("exec", "list") else verb)  # builtins' names
        return handler(opts, args, gopts, log) or 0
    except ImgtoolError as exc:
        wrapped = verb in _WRAPPED and not isinstance(exc, UsageError)
        log.error(f"runc {verb} failed: {exc}" if wrapped else str(exc))
        return getattr(exc, "runc_code", 1)
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console-script entry (`imgtool-runc`): flush stdio, then `os._exit`.

    Why not sys.exit: interpreter teardown (freeing every module `create` imported) took ~7 ms of
    a ~40 ms `create`, paid on every call an orchestrator makes. Nothing here needs it: the log is
    written with os.write (O_SYNC), files are closed by the verbs, no thread or atexit hook runs.
    """
    code = main()
    try:
        sys.stdout.flush()
    except OSError:  # a closed pipe: runc's output is lost the same way, the status still counts
        code = code or 1
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)
