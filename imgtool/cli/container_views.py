"""CLI views of containers and volumes: `ps`, `container inspect`, `top`, `stats`, `exec`,
`container prune`, `volume create|ls|rm|inspect` (docker's columns, JSON shapes and messages)."""

import json
import subprocess
import sys
import time
from typing import List, Optional

import typer

from imgtool.errors import ImgtoolError

container_app = typer.Typer(help="Manage containers.", no_args_is_help=True)
volume_app = typer.Typer(help="Manage volumes.", no_args_is_help=True)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """docker's tabwriter output: columns padded to the widest cell plus 3 spaces."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = []
    for cells in [headers, *rows]:
        lines.append("".join(c.ljust(w + 3) for c, w in zip(cells[:-1], widths)) + cells[-1])
    return "\n".join(lines)


_PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
               "CreatedAt": "CREATED AT", "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES",
               "Labels": "LABELS"}


def ps(all_: bool = typer.Option(False, "-a", "--all"), quiet: bool = typer.Option(False, "-q", "--quiet"),
       no_trunc: bool = typer.Option(False, "--no-trunc"), fmt: Optional[str] = typer.Option(None, "--format")) -> None:
    """List containers (running ones; -a: all), newest first."""
    from imgtool.containers import inspect, record
    from imgtool.store import Store

    from .listing import render

    recs = [r for r in record.all_records(Store.open()) if all_ or r.active()]
    rows = [inspect.ps_row(r) | ({"ID": r.id} if no_trunc else {}) for r in recs]
    if quiet:
        for row in rows:
            typer.echo(row["ID"])
        return
    default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    for line in render(rows, fmt, default, _PS_HEADERS):
        typer.echo(line)


@container_app.command("inspect")
def inspect_(containers: List[str] = typer.Argument(...)) -> None:
    """Print containers as docker inspect does (a JSON array); unknown names: exit 1."""
    from imgtool.containers import inspect, record
    from imgtool.store import Store

    store, found, missing = Store.open(), [], []
    for ref in containers:
        try:
            found.append(inspect.document(record.find(store, ref)))
        except ImgtoolError as exc:
            missing.append(str(exc))
    typer.echo(json.dumps(found, indent=4))
    for msg in missing:
        print(f"imgtool: {msg}", file=sys.stderr)
    if missing:
        raise typer.Exit(1)


def top(container: str, ps_args: Optional[List[str]] = typer.Argument(None)) -> None:
    """The container's processes, from the host's ps (docker's columns, default -ef)."""
    from imgtool.containers import record
    from imgtool.runtime.cgroups import Cgroup
    from imgtool.store import Store

    rec = record.find(Store.open(), container)
    if rec.live_status() != "running" or not rec.state.cgroup:
        raise ImgtoolError(f"container {rec.id} is not running")
    pids = set(Cgroup.from_dict(rec.state.cgroup).pids())
    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True)
    if out.returncode != 0:
        raise ImgtoolError(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    heads = lines[0].split()
    if "PID" not in heads:
        raise ImgtoolError("Couldn't find PID field in ps output")
    col = heads.index("PID")
    keep = [line.split(None, len(heads) - 1) for line in lines[1:]]
    rows = [r for r in keep if len(r) > col and r[col].isdigit() and int(r[col]) in pids]
    typer.echo(table(heads, [r + [""] * (len(heads) - len(r)) for r in rows]))


def stats(containers: Optional[List[str]] = typer.Argument(None),
          no_stream: bool = typer.Option(False, "--no-stream", help="One sample, then exit (the only mode)."),
          fmt: Optional[str] = typer.Option(None, "--format")) -> None:
    """CPU %, memory, block I/O and pids from each running container's cgroup (one sample)."""
    from imgtool.containers import inspect, record
    from imgtool.store import Store

    store = Store.open()
    recs = [record.find(store, c) for c in containers] if containers else \
        [r for r in record.all_records(store) if r.live_status() == "running"]
    running = [r for r in recs if r.live_status() == "running" and r.state.cgroup]
    first = {r.id: (inspect.cgroup_figures(r.state.cgroup["dirs"]), time.monotonic()) for r in running}
    time.sleep(0.5)
    rows = []
    for r in running:
        before, t0 = first[r.id]
        now = inspect.cgroup_figures(r.state.cgroup["dirs"])
        cpu = (now["cpu_ns"] - before["cpu_ns"]) / ((time.monotonic() - t0) * 1e9) * 100
        pct = now["mem"] / now["limit"] * 100 if now["limit"] else 0.0
        rows.append({"ID": r.id[:12], "Name": r.config.name, "CPUPerc": f"{cpu:.2f}%",
                     "MemUsage": f"{inspect.binary_size(now['mem'])} / {inspect.binary_size(now['limit'])}",
                     "MemPerc": f"{pct:.2f}%", "NetIO": "--",
                     "BlockIO": f"{inspect.decimal_size(now['read'])} / {inspect.decimal_size(now['write'])}",
                     "PIDs": str(now["pids"])})
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row, separators=(",", ":")))
        return
    heads = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    typer.echo(table(heads, [list(row.values()) for row in rows]))


def exec_(container: str = typer.Argument(...), command: List[str] = typer.Argument(...),
          interactive: bool = typer.Option(False, "-i", "--interactive"), tty: bool = typer.Option(False, "-t", "--tty"),
          env: List[str] = typer.Option([], "-e", "--env"), user: Optional[str] = typer.Option(None, "-u", "--user"),
          workdir: Optional[str] = typer.Option(None, "-w", "--workdir")) -> None:
    """Run a command in a running container; exits with its code."""
    import os

    from imgtool.containers import exec as cexec
    from imgtool.containers import record
    from imgtool.store import Store

    if tty and interactive and not os.isatty(0):
        raise ImgtoolError("the input device is not a TTY")
    raise typer.Exit(cexec.run(record.find(Store.open(), container), list(command), env, user, workdir, tty))


@container_app.command("prune")
def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not prompt (there is no prompt: accepted)")) -> None:
    """Remove every stopped container."""
    from imgtool.containers import lifecycle
    from imgtool.store import Store

    typer.echo("\n".join(["Deleted Containers:", *lifecycle.prune(Store.open()), "", "Total reclaimed space: 0B"]))


@container_app.command("ls")
def ls(all_: bool = typer.Option(False, "-a", "--all"), quiet: bool = typer.Option(False, "-q", "--quiet"),
       fmt: Optional[str] = typer.Option(None, "--format")) -> None:
    """Same as `imgtool ps`."""
    ps(all_, quiet, False, fmt)


@volume_app.command("create")
def volume_create(name: Optional[str] = typer.Argument(None)) -> None:
    """Create a named volume (a random name if none is given) and print its name."""
    from imgtool.containers import names, volumes
    from imgtool.store import Store

    typer.echo(volumes.create(Store.open(), name or names.new_id(), anonymous=name is None).name)


@volume_app.command("ls")
def volume_ls(quiet: bool = typer.Option(False, "-q", "--quiet")) -> None:
    """List volumes."""
    from imgtool.containers import volumes
    from imgtool.store import Store

    vols = volumes.list_volumes(Store.open())
    if quiet:
        for v in vols:
            typer.echo(v.name)
        return
    typer.echo(table(["DRIVER", "VOLUME NAME"], [["local", v.name] for v in vols]))


@volume_app.command("rm")
def volume_rm(names_: List[str] = typer.Argument(...), force: bool = typer.Option(False, "-f", "--force")) -> None:
    """Remove volumes no container uses."""
    from imgtool.containers import volumes
    from imgtool.store import Store

    store, failed = Store.open(), False
    for name in names_:
        try:
            volumes.remove(store, name, force)
            typer.echo(name)
        except ImgtoolError as exc:
            print(f"imgtool: {exc}", file=sys.stderr)
            failed = True
    if failed:
        raise typer.Exit(1)


@volume_app.command("inspect")
def volume_inspect(names_: List[str] = typer.Argument(...)) -> None:
    """Print volumes as docker volume inspect does."""
    from imgtool.containers import volumes
    from imgtool.store import Store

    store = Store.open()
    docs = [{"CreatedAt": v.created, "Driver": "local", "Labels": {}, "Mountpoint": str(v.mountpoint),
             "Name": v.name, "Options": {}, "Scope": "local"} for v in (volumes.get(store, n) for n in names_)]
    typer.echo(json.dumps(docs, indent=4))


def register(app: typer.Typer) -> None:
    """Add ps/top/stats/exec and the `container` and `volume` groups."""
    app.command("ps")(ps)
    app.command("top", context_settings={"allow_interspersed_args": False})(top)
    app.command("stats")(stats)
    app.command("exec", context_settings={"allow_interspersed_args": False})(exec_)
    app.add_typer(container_app, name="container")
    app.add_typer(volume_app, name="volume")
