"""`imgtool-runc -h` and `imgtool-runc VERB -h`, in the layout runc's urfave/cli prints.

Why its own module: help is never on the shim's hot path, so runc.py imports this only when asked.
Why that layout: tools and runc's own integration tests (help.bats) read the first lines, `NAME:`
then `PROG - summary` or `PROG VERB - summary`, and expect `-h`/`--help` after any verb, even one
imgtool refuses to run (checkpoint, restore: no CRIU), to print help and exit 0.
"""

from __future__ import annotations

# runc 1.x's one-line summaries (`runc --help`), so a user reads the same words
SUMMARIES = {
    "checkpoint": "checkpoint a running container (not supported by imgtool's runtime: no CRIU)",
    "create": "create a container",
    "delete": "delete any resources held by the container often used with detached container",
    "events": "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
    "exec": "execute new process inside the container",
    "features": "show the enabled features",
    "kill": "kill sends the specified signal (default: SIGTERM) to the container's init process",
    "list": "lists containers started by runc with the given root",
    "pause": "pause suspends all processes inside the container",
    "ps": "ps displays the processes running inside a container",
    "restore": "restore a container from a previous checkpoint (not supported by imgtool's runtime: no CRIU)",
    "resume": "resumes all processes that have been previously paused",
    "run": "create and run a container",
    "spec": "create a new specification file",
    "start": "executes the user defined process in a created container",
    "state": "output the state of a container",
    "update": "update container resource constraints",
}
ARGUMENTS = {"exec": "<container-id> <command> [command options]  || -p process.json <container-id>",
             "kill": "<container-id> [signal]", "ps": "<container-id> [ps options]",
             "features": "", "spec": "", "list": ""}


def _options(table: dict) -> list[str]:
    """`--name value, -n value` per flag of a parse table ({name: kind or alias})."""
    from .runc import BOOL

    aliases: dict[str, list[str]] = {}
    for name, kind in table.items():
        if kind in table:
            aliases.setdefault(kind, []).append(name)
    lines = []
    for name, kind in table.items():
        if kind in table or name in ("help", "h"):
            continue
        value = "" if kind == BOOL else " value"
        spelled = [f"--{name}{value}"] + [f"-{a}{value}" for a in aliases.get(name, [])]
        lines.append("   " + ", ".join(spelled))
    return lines


def program_help(prog: str, globals_table: dict) -> str:
    """The top-level help: NAME, USAGE, COMMANDS and GLOBAL OPTIONS."""
    width = max(map(len, SUMMARIES)) + 2
    commands = [f"   {verb.ljust(width)}{text}" for verb, text in SUMMARIES.items()]
    return "\n".join([
        "NAME:", f"   {prog} - Open Container Initiative runtime (imgtool's, runc-compatible)", "",
        "USAGE:", f"   {prog} [global options] command [command options] [arguments...]", "",
        "COMMANDS:", *commands, "",
        "GLOBAL OPTIONS:", *_options(globals_table), "   --help, -h", ""])


def verb_help(prog: str, verb: str, table: dict, nargs: int) -> str:
    """One verb's help: NAME, USAGE and OPTIONS (the flags imgtool-runc accepts for it)."""
    arguments = ARGUMENTS.get(verb, "<container-id>" if nargs else "")
    return "\n".join([
        "NAME:", f"   {prog} {verb} - {SUMMARIES[verb]}", "",
        "USAGE:", f"   {prog} {verb} [command options] {arguments}".rstrip(), "",
        "OPTIONS:", *_options(table), "   --help, -h", ""])
