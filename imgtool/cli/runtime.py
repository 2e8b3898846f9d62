"""CLI for the runtime: `imgtool run`, `imgtool unpack`, and the runc-style `imgtool runtime` verbs."""

from __future__ import annotations

import json
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
    """Add `run`, `unpack` and the `runtime` group to the top-level app."""
    app.command("run", context_settings={"allow_interspersed_args": False})(run)
    app.command("unpack")(unpack)
    app.add_typer(runtime_app, name="runtime")
