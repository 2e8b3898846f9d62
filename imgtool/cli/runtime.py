"""CLI for the runtime: `imgtool run`, `imgtool unpack`, and the runc-style `imgtool runtime` verbs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from imgtool.errors import ImgtoolError

def _volume(spec: str) -> tuple[str, str, bool]:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/") or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise ImgtoolError(f"invalid volume {spec!r} (HOSTDIR:DIR[:ro])")
    if not os.path.exists(parts[0]):
        raise ImgtoolError(f"volume source {parts[0]} does not exist")
    return parts[0], parts[1], len(parts) == 3 and parts[2] == "ro"


def run(
    image: str = typer.Argument(..., help="Image reference in the store."),
    command: Optional[List[str]] = typer.Argument(None, help="Command and arguments (replace CMD)."),
    rm: bool = typer.Option(False, "--rm", help="Accepted for docker compatibility: containers are always removed."),
    name: Optional[str] = typer.Option(None, "--name"),
    env: List[str] = typer.Option([], "-e", "--env", help="K=V"),
    workdir: Optional[str] = typer.Option(None, "-w", "--workdir"),
    user: Optional[str] = typer.Option(None, "-u", "--user"),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint"),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h"),
    memory: Optional[str] = typer.Option(None, "--memory", "-m"),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap"),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="Number of CPUs (e.g. 1.5)."),
    cpu_shares: Optional[str] = typer.Option(None, "--cpu-shares", "-c", help="Relative CPU weight (2..262144)."),
    pids_limit: Optional[str] = typer.Option(None, "--pids-limit", help="Process limit (0 or -1: unlimited)."),
    network: str = typer.Option("host", "--network", "--net", help="host or none"),
    read_only: bool = typer.Option(False, "--read-only"),
    volume: List[str] = typer.Option([], "-v", "--volume", help="HOSTDIR:DIR[:ro]"),
    interactive: bool = typer.Option(False, "-i", "--interactive"),
    tty: bool = typer.Option(False, "-t", "--tty"),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="runc or crun instead of imgtool's runtime"),
) -> None:
    """Run a command in a new container (docker run's flags and exit codes)."""
    from imgtool.runtime.bundle import Overrides
    from imgtool.runtime.resources import from_flags
    from imgtool.store import Store

    if network not in ("host", "none"):
        raise ImgtoolError(f"unsupported network {network!r} (host or none)")
    for item in env:
        if "=" not in item:
            value = os.environ.get(item)
            if value is None:
                continue
            env[env.index(item)] = f"{item}={value}"
    res = from_flags(memory, memory_swap, cpus, cpu_shares, pids_limit)
    ov = Overrides(args=list(command) if command else None,
                   entrypoint=([entrypoint] if entrypoint else []) if entrypoint is not None else None,
                   env=list(env), workdir=workdir, user=user, hostname=hostname or None, terminal=tty,
                   read_only=read_only, network=network, volumes=[_volume(v) for v in volume], resources=res)
    if tty and interactive and not os.isatty(0):
        raise ImgtoolError("the input device is not a TTY")
    store = Store.open()
    if runtime:
        from imgtool.runtime.oci_runtime import run_with
        code = run_with(runtime, store, image, ov)
        raise typer.Exit(code)
    from imgtool.runtime.runner import run_image
    from imgtool.runtime.tty import Streams

    # docker: without -i the container reads nothing; without -t it never gets our terminal
    stdin_fd = 0 if interactive else os.open(os.devnull, os.O_RDONLY)
    status = run_image(store, image, ov, name=name, streams=Streams((stdin_fd, 1, 2), interpose=True))
    if status.oom_killed:
        print("imgtool: container was OOMKilled", file=sys.stderr)
    raise typer.Exit(status.code)


def unpack(ref: str = typer.Argument(..., help="Image reference in the store."),
           bundle: Path = typer.Argument(..., help="Bundle directory to create (must not exist or be empty).")) -> None:
    """Write an OCI runtime bundle: rootfs/ plus config.json (for runc, crun or `imgtool runtime`)."""
    from imgtool.runtime.unpack import unpack_image
    from imgtool.store import Store

    unpack_image(Store.open(), ref, bundle)


def runtime(ctx: typer.Context) -> None:
    """OCI runtime verbs: runc's command line (the same code as `imgtool-runc`; try `imgtool runtime --help`)."""
    from imgtool.runtime.runc import main

    raise typer.Exit(main(list(ctx.args), prog="imgtool runtime"))


def register(app: typer.Typer) -> None:
    """Add `run`, `unpack` and the `runtime` group to the top-level app."""
    app.command("run", context_settings={"allow_interspersed_args": False})(run)
    app.command("unpack")(unpack)
    app.command("runtime", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                             "allow_interspersed_args": False, "help_option_names": []})(runtime)
