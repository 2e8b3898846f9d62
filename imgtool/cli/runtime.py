"""CLI for the runtime: `imgtool unpack` and the runc-style `imgtool runtime` verbs (`run` is in containers.py)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import List, Optional

import typer

from imgtool.errors import ImgtoolError

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)b?$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """docker's memory sizes: 200m, 1g, 512k, bytes; -1 is unlimited."""
    if text.strip() == "-1":
        return -1
    m = _SIZE.match(text.strip())
    if not m:
        raise ImgtoolError(f"invalid size {text!r} (use e.g. 200m or 1g)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def resources(memory: str | None, memory_swap: str | None, cpus: str | None, cpu_shares: str | None,
              pids_limit: str | None):
    """docker's resource flags -> the runtime's Resources (--memory alone gets swap = 2x memory)."""
    from imgtool.runtime.cgroups import Resources

    def number(text: str | None, kind):
        try:
            return None if text is None else kind(text)
        except ValueError:
            raise ImgtoolError(f"invalid number {text!r}") from None

    mem = parse_size(memory) if memory else None
    swap = parse_size(memory_swap) if memory_swap else (2 * mem if mem and mem > 0 else None)
    ncpus = number(cpus, float)
    return Resources(memory=mem, memory_swap=swap, cpu_shares=number(cpu_shares, int), pids=number(pids_limit, int),
                     cpu_quota=int(ncpus * 100000) if ncpus else None, cpu_period=100000 if ncpus else None)


def run_with_runtime(runtime: str, image: str, command, env, workdir, user, entrypoint, hostname, memory,
                     memory_swap, cpus, cpu_shares, pids_limit, network, read_only, volume, tty) -> None:
    """`run --runtime runc|crun`: the image unpacked to a bundle and run by that runtime, foreground."""
    from imgtool.containers.mounts import parse_volume
    from imgtool.runtime.bundle import Overrides
    from imgtool.runtime.oci_runtime import run_with
    from imgtool.store import Store

    binds = [parse_volume(v) for v in volume]
    ov = Overrides(args=list(command) if command else None,
                   entrypoint=([entrypoint] if entrypoint else []) if entrypoint is not None else None,
                   env=[e for e in env if "=" in e], workdir=workdir, user=user, hostname=hostname or None,
                   terminal=tty, read_only=read_only, network="host" if network == "host" else "none",
                   volumes=[(m["source"], m["target"], m["readonly"]) for m in binds if m["type"] == "bind"],
                   resources=resources(memory, memory_swap, cpus, cpu_shares, pids_limit))
    raise typer.Exit(run_with(runtime, Store.open(), image, ov))


def unpack(ref: str = typer.Argument(..., help="Image reference in the store."),
           bundle: Path = typer.Argument(..., help="Bundle directory to create (must not exist or be empty).")) -> None:
    """Write an OCI runtime bundle: rootfs/ plus config.json (for runc, crun or `imgtool runtime`)."""
    from imgtool.runtime.unpack import unpack_image
    from imgtool.store import Store

    unpack_image(Store.open(), ref, bundle)


runtime_app = typer.Typer(help="OCI runtime verbs, runc-compatible where they overlap.", no_args_is_help=True)


@runtime_app.command("create")
def rt_create(container_id: str = typer.Argument(...), bundle: Path = typer.Option(Path("."), "--bundle", "-b"),
              pid_file: Optional[Path] = typer.Option(None, "--pid-file"),
              console_socket: Optional[Path] = typer.Option(
                  None, "--console-socket", help="Unix socket to receive the pty master (process.terminal)")) -> None:
    """Create a container from a bundle; its process waits for `start`."""
    from imgtool.runtime import lifecycle

    lifecycle.create(container_id, bundle, pid_file, console_socket)


@runtime_app.command("start")
def rt_start(container_id: str) -> None:
    """Start a created container."""
    from imgtool.runtime.container import Container

    Container.load(container_id).start()


@runtime_app.command("run")
def rt_run(container_id: str = typer.Argument(...), bundle: Path = typer.Option(Path("."), "--bundle", "-b"),
           pid_file: Optional[Path] = typer.Option(None, "--pid-file")) -> None:
    """Create, start and wait for a container, then delete it; exits with its status."""
    from imgtool.runtime import lifecycle

    raise typer.Exit(lifecycle.run(container_id, bundle, pid_file).code)


@runtime_app.command("state")
def rt_state(container_id: str) -> None:
    """Print the runtime-spec state JSON."""
    from imgtool.runtime.container import Container

    typer.echo(json.dumps(Container.load(container_id).state(), indent=2))


@runtime_app.command("kill")
def rt_kill(container_id: str, sig: str = typer.Argument("TERM"), all_: bool = typer.Option(False, "--all", "-a")) -> None:
    """Send a signal (default TERM) to the container's init (or all its processes)."""
    from imgtool.runtime.container import Container, parse_signal

    Container.load(container_id).kill(parse_signal(sig), all_)


@runtime_app.command("delete")
def rt_delete(container_id: str, force: bool = typer.Option(False, "--force", "-f")) -> None:
    """Delete a stopped (or, with --force, any) container and its cgroup and state."""
    from imgtool.runtime import lifecycle

    lifecycle.delete(container_id, force)


@runtime_app.command("list")
def rt_list(quiet: bool = typer.Option(False, "--quiet", "-q")) -> None:
    """List containers with their status."""
    from imgtool.runtime.container import list_containers

    for c in list_containers():
        typer.echo(c.id if quiet else f"{c.id}\t{c.pid}\t{c.status()}\t{c.bundle}")


def register(app: typer.Typer) -> None:
    """Add `unpack` and the `runtime` group to the top-level app."""
    app.command("unpack")(unpack)
    app.add_typer(runtime_app, name="runtime")
