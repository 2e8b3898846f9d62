"""How the command tree reads to a docker user: metavars as words, `-h`, an example under each command.

Typer derives a metavar from the Python annotation (`<str>`, `<list[str]>`), which tells a user
nothing about what to type. Rather than repeat `metavar=` on every option of every group, the tree
is polished once after it is assembled: an option without an explicit metavar gets a word from
`METAVARS` (docker's vocabulary: BYTES, KEY=VALUE, NAME[:TAG]) or its own name in capitals, and an
argument shows its name only. Examples live in one table so that `tests/cli/test_help.py` can demand
one per command without each group module carrying boilerplate.
"""

import re
from typing import Any

# option name (click's param name) -> what the user types
METAVARS = {
    "memory": "BYTES", "memory_swap": "BYTES", "shm_size": "BYTES",
    "cpus": "DECIMAL", "cpu_shares": "INT", "pids_limit": "INT",
    "env": "KEY=VALUE", "label": "KEY=VALUE", "build_arg": "KEY[=VALUE]", "log_opt": "KEY=VALUE",
    "tag": "NAME[:TAG]", "publish": "[IP:]HOST:CONTAINER[/PROTO]", "volume": "SRC:DST[:ro|rw]",
    "mount": "type=TYPE,...", "secret": "id=ID[,src=FILE|,env=VAR]", "output": "type=TYPE,dest=PATH",
    "file": "FILE", "input": "FILE", "iidfile": "FILE", "password_file": "FILE", "pid_file": "FILE",
    "format": "FORMAT", "platform": "OS/ARCH[/VARIANT]", "compression": "gzip|zstd",
    "stop_timeout": "SECONDS", "timeout": "SECONDS", "time": "SECONDS", "interval": "DURATION",
    "signal": "SIGNAL", "stop_signal": "SIGNAL", "user": "USER[:GROUP]", "username": "USER",
    "workdir": "DIR", "root": "DIR", "cert_dir": "DIR", "bundle": "DIR", "addr": "HOST:PORT",
    "tail": "N", "files": "N", "network": "MODE", "progress": "auto|plain|rawjson",
    "target": "STAGE", "name": "NAME", "hostname": "NAME", "entrypoint": "CMD", "runtime": "NAME",
    "cap_add": "CAPABILITY", "cap_drop": "CAPABILITY", "security_opt": "seccomp=PROFILE",
}

# docker's description of a flag, for options that do not carry their own help (the resource and
# container flags mean the same on build, run, exec, ps, ...; one wording, not one per command)
FLAG_HELP = {
    "--memory": "Memory limit (e.g. 200m, 1g; 0 = unlimited, at least 6m).",
    "--memory-swap": "Memory plus swap limit (>= --memory; -1 = unlimited swap).",
    "--cpu-shares": "CPU shares, a relative weight (2-262144; docker's default is 1024).",
    "--cpus": "Number of CPUs (e.g. 1.5), from 0.01 to the host's CPU count.",
    "--pids-limit": "Limit on the number of processes (0 or -1 = unlimited).",
    "--name": "Assign a name to the container.",
    "--workdir": "Working directory inside the container.",
    "--user": "Username or UID, optionally with a group (USER[:GROUP]).",
    "--username": "Registry user name.",
    "-u": "Registry user name.",
    "--entrypoint": "Overwrite the image's ENTRYPOINT.",
    "--hostname": "Container host name (default: the short container ID).",
    "--read-only": "Mount the container's root filesystem read-only.",
    "--stop-signal": "Signal that stops the container (default: the image's STOPSIGNAL, else SIGTERM).",
    "--stop-timeout": "Seconds to wait after the stop signal before SIGKILL (default 10).",
    "--label": "Set metadata on the container (KEY=VALUE).",
    "--interactive": "Keep STDIN open and relay it to the container.",
    "--tty": "Allocate a pseudo-TTY.",
    "--signal": "Signal to send (a name such as HUP or a number).",
    "--force": "Do it even where it would otherwise be refused (running, in use).",
    "--timeout": "Seconds to wait for the stop signal to work before SIGKILL.",
    "--follow": "Follow log output.",
    "--tail": "Number of lines to show from the end of the log (default: all).",
    "--timestamps": "Show timestamps.",
    "--all": "Show all (stopped ones too).",
    "--quiet": "Only display IDs.",
    "--no-trunc": "Don't truncate output.",
    "--format": "Output format: table, json, or a Go template such as '{{.ID}}'.",
    "--env": "Set environment variables (KEY=VALUE).",
}

# command path below `imgtool` -> one example line shown at the end of its help
EXAMPLES = {
    "build": "imgtool build -t app:v1 .",
    "builder": "imgtool builder prune",
    "builder prune": "imgtool builder prune -f",
    "import": "imgtool import rootfs.tar -t busybox:latest",
    "images": "imgtool images --format '{{.Repository}}:{{.Tag}}'",
    "tag": "imgtool tag busybox localhost:5000/busybox:v1",
    "rmi": "imgtool rmi app:v1",
    "save": "imgtool save app:v1 -o app.tar --format docker",
    "load": "imgtool load -i app.tar",
    "prune": "imgtool prune -a",
    "system": "imgtool system df",
    "system df": "imgtool system df --format json",
    "inspect": "imgtool inspect --layers app:v1",
    "history": "imgtool history --no-trunc app:v1",
    "run": "imgtool run -d --name kuard -p 127.0.0.1:8080:3000 --memory 200m app:v1",
    "unpack": "imgtool unpack app:v1 bundle/",
    "runtime": "imgtool runtime state CONTAINER",
    "pull": "imgtool pull localhost:5000/app:v1",
    "push": "imgtool push app:v1 localhost:5000/app:v1",
    "copy": "imgtool copy app:v1 oci-archive:app.tar",
    "login": "printf %s \"$PASSWORD\" | imgtool login -u alice --password-stdin localhost:5000",
    "logout": "imgtool logout localhost:5000",
    "referrers": "imgtool referrers localhost:5000/app:v1",
    "version": "imgtool version",
    "info": "imgtool info",
    "completion": "imgtool completion bash > /etc/bash_completion.d/imgtool",
    "debug": "imgtool debug parse Dockerfile",
    "debug parse": "imgtool debug parse --format json Dockerfile",
    "registry": "imgtool registry serve --addr 127.0.0.1:5000 --root /srv/registry",
    "registry serve": "imgtool registry serve --addr 127.0.0.1:5000 --root /srv/registry",
    "registry gc": "imgtool registry gc --root /srv/registry",
    "registry gen-cert": "imgtool registry gen-cert --cert registry.crt --key registry.key --host localhost",
    "registry htpasswd": "printf %s \"$PASSWORD\" | imgtool registry htpasswd htpasswd alice",
    "ps": "imgtool ps -a --format json",
    "logs": "imgtool logs -f --tail 20 kuard",
    "stop": "imgtool stop -t 5 kuard",
    "start": "imgtool start kuard",
    "kill": "imgtool kill -s HUP kuard",
    "rm": "imgtool rm -f kuard",
    "restart": "imgtool restart kuard",
    "attach": "imgtool attach --sig-proxy=false kuard",
    "wait": "imgtool wait kuard",
    "top": "imgtool top kuard",
    "stats": "imgtool stats --no-stream kuard",
    "exec": "imgtool exec -it kuard sh",
    "container": "imgtool container prune",
    "container ls": "imgtool container ls -a",
    "container prune": "imgtool container prune",
    "container inspect": "imgtool container inspect kuard",
    "system": "imgtool system df",
    "system df": "imgtool system df",
    "system prune": "imgtool system prune -a -f",
    "volume": "imgtool volume create data",
    "volume create": "imgtool volume create data",
    "volume ls": "imgtool volume ls",
    "volume rm": "imgtool volume rm data",
    "volume inspect": "imgtool volume inspect data",
}


def metavar_for(opts: list[str]) -> str:
    """The word shown after an option: docker's vocabulary, else the option's long name in capitals."""
    name = max(opts, key=len).lstrip("-").replace("-", "_")
    return METAVARS.get(name, name.upper())


def summary(text: str) -> str:
    """The first clause of a command's help, for the command list: whole words, never cut mid-way."""
    first = " ".join(text.strip().split("\n\n")[0].split())
    first = re.sub(r"\s*\([^()]*\)", "", first)
    for stop in (". ", ": ", "; ", " — "):
        first = first.split(stop)[0]
    return first.rstrip(".")


def polish(command: Any, path: tuple[str, ...] = ()) -> None:
    """Give every option a metavar word, every command `-h` (where the letter is free) and its example.

    Runs on the assembled click tree, so group modules stay free of presentation details.
    """
    taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
    command.context_settings.setdefault("help_option_names", ["--help"] if "-h" in taken else ["-h", "--help"])
    for param in command.params:
        if param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            param.display_type_rich = lambda ctx: None  # the name says it; no `<str>` column
            continue
        if not param.help:
            param.help = next((FLAG_HELP[o] for o in param.opts if o in FLAG_HELP), None)
        if not getattr(param, "is_flag", False) and not getattr(param, "count", False) and param.metavar is None:
            param.metavar = metavar_for(param.opts)
    if command.help and not command.short_help:
        command.short_help = summary(command.help)
    example = EXAMPLES.get(" ".join(path))
    if example and not (command.epilog or "").startswith("Example"):
        command.epilog = f"Example:  {example}"
    for name, sub in getattr(command, "commands", {}).items():
        polish(sub, path + (name,))


def command_path(root: Any, args: list[str]) -> str:
    """`imgtool run` for `imgtool run --cpus`: the deepest command the words name (for a usage hint
    when click reports an error without its context)."""
    words, command = ["imgtool"], root
    for arg in args:
        lookup = getattr(command, "get_command", None)  # groups only; a lazy group loads `arg` on demand
        sub = lookup(None, arg) if lookup else None
        if sub is None:
            if arg.startswith("-"):
                continue
            break
        words.append(arg)
        command = sub
    return " ".join(words)
