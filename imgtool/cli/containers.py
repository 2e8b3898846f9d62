"""CLI for containers: `run`, `create`, `start`, `stop`, `kill`, `rm`, `wait`, `restart`, `logs`, `attach`.

docker's flag names, output and exit codes: `run` errors before the container starts exit 125
(126/127 when the command cannot be executed), an attached run exits with the container's code;
verbs over several containers print each name as typed and exit 1 if any failed.
"""

import gc
import os
import sys
from contextlib import contextmanager
from typing import Iterator, List, Optional

import typer

from imgtool.errors import ImgtoolError


class UsageError(ImgtoolError):
    """A bad flag value for run/create: docker's exit code 125."""

    exit_code = 125


def _env(items: list[str]) -> list[str]:
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def _config(image: str, command, *, name, env, workdir, user, entrypoint, hostname, memory, memory_swap, cpus,
            cpu_shares, pids_limit, network, read_only, volume, mount, publish, publish_all, tty, interactive,
            rm, log_opt, stop_signal, stop_timeout, label, restart, pull="missing", cap_add=(), cap_drop=(),
            security_opt=()):
    """Every flag checked and the image resolved before anything is created (docker's order)."""
    from imgtool.containers import mounts, names, ports
    from imgtool.containers.logs import LogOptions
    from imgtool.containers.monitor import hostname_default
    from imgtool.containers.record import Config, now
    from imgtool.containers.restart import parse_policy
    from imgtool.runtime.capabilities import docker_set
    from imgtool.runtime.seccomp_profile import from_security_opts
    from imgtool.runtime.signals import parse_signal
    from imgtool.store import Store

    from imgtool.runtime.resources import from_flags

    try:
        if name is not None:
            name = names.check_name(name)
        policy, retries = parse_policy(restart)
        if rm and policy != "no":
            raise ImgtoolError("conflicting options: cannot specify both --restart and --rm")
        if network not in ("bridge", "host", "none") and not network.startswith("container:"):
            raise ImgtoolError(f'network {network} not found')
        if network.startswith("container:"):
            from imgtool.containers import record

            other = record.find(Store.open(), network.partition(":")[2])
            if other.live_status() != "running":
                raise ImgtoolError(f"cannot join network of a non running container: {other.id}")
            network = f"container:{other.id}"
        if network != "bridge" and (publish or publish_all):
            publish, publish_all = [], False  # docker ignores published ports without a bridge (warns)
        res = from_flags(memory, memory_swap, cpus, cpu_shares, pids_limit)
        docker_set(list(cap_add), list(cap_drop))  # a bad name fails here, before anything is created
        seccomp = from_security_opts(list(security_opt))
        wanted_ports = [m for spec in publish for m in ports.parse_publish(spec)]
        wanted_mounts = [mounts.parse_volume(v) for v in volume] + [mounts.parse_mount(m) for m in mount]
        logs = LogOptions.parse(log_opt)
        labels = dict(x.partition("=")[::2] for x in label)
        store = Store.open()
        img = _image(store, image, pull)
        stop_signal = stop_signal or img.config.config.stop_signal or "SIGTERM"
        parse_signal(stop_signal)
        exposed = sorted(img.config.config.exposed_ports or ())
        if publish_all:
            wanted_ports += [m for m in ports.parse_exposed(exposed)
                             if m.key not in {p.key for p in wanted_ports}]
        allocated = ports.allocate(wanted_ports)
    except ImgtoolError as exc:
        raise UsageError(str(exc)) from None
    cid = names.new_id()
    return store, img, Config(
        id=cid, name=name or "", image=image, image_id=img.id, created=now(), args=list(command) if command else None,
        entrypoint=([entrypoint] if entrypoint else []) if entrypoint is not None else None, env=_env(env),
        workdir=workdir, user=user if user is not None else img.config.config.user, hostname=hostname or hostname_default(cid, network), tty=tty,
        interactive=interactive, read_only=read_only, network=network, mounts=mounts.prepare(store, wanted_mounts),
        resources={k: v for k, v in res._asdict().items() if v is not None and k != "unified"},
        ports=[p.to_dict() for p in allocated], exposed=exposed, auto_remove=rm, stop_signal=stop_signal,
        stop_timeout=10 if stop_timeout is None else stop_timeout, log_max_size=logs.max_size,
        log_max_file=logs.max_file, labels=labels, restart_policy=policy, restart_max=retries, cap_add=list(cap_add),
        cap_drop=list(cap_drop), seccomp=seccomp)


def _image(store, ref: str, pull: str):  # noqa: ANN202 - store.image.Image
    """The image to run. docker's `--pull`: `missing` (the default) pulls a name the store lacks,
    saying so first as docker does; `always` pulls every time; `never` only looks in the store."""
    from imgtool.errors import NotFoundError

    if pull not in ("missing", "always", "never"):
        raise ImgtoolError(f"invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"")
    if pull != "always":
        try:
            return store.resolve(ref)
        except NotFoundError:
            if pull == "never":
                raise
        typer.echo(f"Unable to find image '{ref}' locally", err=True)
    from imgtool import remote

    remote.pull(store, ref)
    return store.resolve(ref)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Import what a run needs with the cyclic collector paused, then freeze what it made.

    entry.py's reason, for the ~40 modules (containers, store, runtime) a run adds to the CLI's:
    they make long-lived objects and no garbage, and the collector ran 15 times meanwhile (2-8 ms
    of each `run`); frozen, the forked monitor's collector does not touch (and copy) their pages.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _exit_now() -> None:
    """End a `run -d` that printed its ID without the interpreter's teardown.

    By then the container is the monitor's (a process of its own, which makes the record durable),
    and this process holds only what the kernel releases (fds, flocks); finalising every module and
    object it loaded cost 20-140 ms on the path each `run -d` waits for, longer than podman's exit.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run(
    image: str = typer.Argument(..., help="Image reference in the store."),
    command: Optional[List[str]] = typer.Argument(None, help="Command and arguments (replace CMD)."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background and print the container ID."),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    restart: str = typer.Option("no", "--restart", help="no, on-failure[:N], always, unless-stopped"),
    name: Optional[str] = typer.Option(None, "--name"),
    env: List[str] = typer.Option([], "-e", "--env", help="K=V"),
    workdir: Optional[str] = typer.Option(None, "-w", "--workdir"),
    user: Optional[str] = typer.Option(None, "-u", "--user"),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint"),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h"),
    memory: Optional[str] = typer.Option(None, "--memory", "-m"),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap"),
    cpus: Optional[str] = typer.Option(None, "--cpus"),
    cpu_shares: Optional[str] = typer.Option(None, "--cpu-shares", "-c"),
    pids_limit: Optional[str] = typer.Option(None, "--pids-limit"),
    network: str = typer.Option("bridge", "--network", "--net", help="bridge (own namespace via pasta), host, none"),
    read_only: bool = typer.Option(False, "--read-only"),
    volume: List[str] = typer.Option([], "-v", "--volume", help="SRC:DST[:ro|rw] (SRC: host path or volume name)"),
    mount: List[str] = typer.Option([], "--mount", help="type=bind|volume|tmpfs,source=,target=[,readonly]"),
    publish: List[str] = typer.Option([], "-p", "--publish", help="[IP:][HOST:]CONTAINER[/tcp|udp]"),
    publish_all: bool = typer.Option(False, "-P", "--publish-all", help="Publish every EXPOSEd port."),
    log_opt: List[str] = typer.Option([], "--log-opt", help="max-size=10m, max-file=3"),
    stop_signal: Optional[str] = typer.Option(None, "--stop-signal"),
    stop_timeout: Optional[int] = typer.Option(None, "--stop-timeout"),
    label: List[str] = typer.Option([], "-l", "--label"),
    interactive: bool = typer.Option(False, "-i", "--interactive"),
    tty: bool = typer.Option(False, "-t", "--tty"),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="runc or crun instead of imgtool's runtime"),
    pull: str = typer.Option("missing", "--pull", help="missing (pull an image the store lacks), always, never"),
    cap_add: List[str] = typer.Option([], "--cap-add", help="Add a capability (SYS_ADMIN, ..., ALL)"),
    cap_drop: List[str] = typer.Option([], "--cap-drop", help="Drop a capability (CHOWN, ..., ALL)"),
    security_opt: List[str] = typer.Option([], "--security-opt",
                                           help="seccomp=unconfined|builtin|PROFILE.json (docker's default profile otherwise)"),
) -> None:
    """Run a command in a new container (docker run's flags and exit codes)."""
    if tty and interactive and not detach and not os.isatty(0):
        raise UsageError("the input device is not a TTY")
    if runtime:
        from .runtime import run_with_runtime

        return run_with_runtime(runtime, image, command, env, workdir, user, entrypoint, hostname, memory,
                                memory_swap, cpus, cpu_shares, pids_limit, network, read_only, volume, tty,
                                cap_add, cap_drop, security_opt)
    with _collector_paused():
        from imgtool.containers import lifecycle, monitor
        from imgtool.containers.restart import Manager
        from imgtool.runtime.tty import Streams
    store, img, cfg = _config(image, command, name=name, env=env, workdir=workdir, user=user, entrypoint=entrypoint,
                         hostname=hostname, memory=memory, memory_swap=memory_swap, cpus=cpus, cpu_shares=cpu_shares,
                         pids_limit=pids_limit, network=network, read_only=read_only, volume=volume, mount=mount,
                         publish=publish, publish_all=publish_all, tty=tty, interactive=interactive, rm=rm,
                         log_opt=log_opt, stop_signal=stop_signal, stop_timeout=stop_timeout, label=label,
                         restart=restart, pull=pull, cap_add=cap_add, cap_drop=cap_drop, security_opt=security_opt)
    rec = lifecycle.create(store, cfg)
    if detach:
        lifecycle.start(store, rec, img)
        typer.echo(rec.id)
        _exit_now()
    # docker: without -i the container reads nothing; without -t it never gets our terminal
    stdin_fd = 0 if interactive else os.open(os.devnull, os.O_RDONLY)
    restarts = Manager(cfg.restart_policy, cfg.restart_max)
    status = monitor.run(store, rec, Streams((stdin_fd, 1, 2), interpose=True), None, pdeathsig=True, image=img,
                         restarts=restarts)
    if status is not None:
        monitor.hand_over(store, rec, restarts, status)
    if status is not None and status.oom_killed:
        print("imgtool: container was OOMKilled", file=sys.stderr)
    raise typer.Exit(status.code if status is not None else 125)


def _each(refs: list[str], action, quiet_missing: bool = False) -> None:
    """Apply `action(store, record)` to each container, print the ref as typed; exit 1 if any failed."""
    from imgtool.containers import record
    from imgtool.errors import NotFoundError
    from imgtool.store import Store

    store = Store.open()
    failed = False
    for ref in refs:
        try:
            action(store, record.find(store, ref))
            typer.echo(ref)
        except NotFoundError as exc:
            if not quiet_missing:
                print(f"imgtool: {exc}", file=sys.stderr)
                failed = True
        except ImgtoolError as exc:
            print(f"imgtool: {exc}", file=sys.stderr)
            failed = True
    if failed:
        raise typer.Exit(1)


def start(containers: List[str] = typer.Argument(...)) -> None:
    """Start stopped containers (detached)."""
    from imgtool.containers import lifecycle

    _each(containers, lambda store, rec: lifecycle.start(store, rec))


def stop(containers: List[str] = typer.Argument(...),
         time_: Optional[int] = typer.Option(None, "-t", "--time", "--timeout", help="Seconds before SIGKILL"),
         signal_: Optional[str] = typer.Option(None, "-s", "--signal")) -> None:
    """Stop running containers: the stop signal, then SIGKILL after the timeout (default 10 s)."""
    from imgtool.containers import lifecycle

    _each(containers, lambda store, rec: lifecycle.stop(rec, time_, signal_))


def kill(containers: List[str] = typer.Argument(...), signal_: str = typer.Option("KILL", "-s", "--signal")) -> None:
    """Send a signal (default KILL) to running containers."""
    from imgtool.containers import lifecycle

    _each(containers, lambda store, rec: lifecycle.kill(rec, signal_))


def rm(containers: List[str] = typer.Argument(...), force: bool = typer.Option(False, "-f", "--force"),
       volumes: bool = typer.Option(False, "-v", "--volumes", help="Also remove anonymous volumes")) -> None:
    """Remove containers (-f: running ones too, killed first)."""
    from imgtool.containers import lifecycle

    _each(containers, lambda store, rec: lifecycle.remove(store, rec, force, volumes), quiet_missing=force)


def restart(containers: List[str] = typer.Argument(...),
            time_: Optional[int] = typer.Option(None, "-t", "--time", "--timeout")) -> None:
    """Stop, then start containers again."""
    from imgtool.containers import lifecycle

    _each(containers, lambda store, rec: lifecycle.restart(store, rec, time_))


def wait(containers: List[str] = typer.Argument(...)) -> None:
    """Block until containers stop, then print their exit codes."""
    from imgtool.containers import lifecycle, record
    from imgtool.store import Store

    store = Store.open()
    for ref in containers:
        typer.echo(str(lifecycle.wait(record.find(store, ref))))


def logs(container: str, follow: bool = typer.Option(False, "-f", "--follow"),
         tail: str = typer.Option("all", "-n", "--tail"), timestamps: bool = typer.Option(False, "-t", "--timestamps")) -> None:
    """Print a container's log (json-file): stdout to stdout, stderr to stderr."""
    from imgtool.containers import logs as jlog
    from imgtool.containers import record
    from imgtool.store import Store

    if tail != "all" and not tail.lstrip("-").isdigit():
        raise ImgtoolError(f'invalid value for "tail": {tail}')
    rec = record.find(Store.open(), container)
    entries = jlog.read(rec.log_path, None if tail == "all" else int(tail))

    def emit(e) -> None:
        out = sys.stdout.buffer if e.stream == "stdout" else sys.stderr.buffer
        out.write((e.time.encode() + b" " if timestamps else b"") + e.data)
        out.flush()

    for e in entries:
        emit(e)
    if follow:
        size = rec.log_path.stat().st_size if rec.log_path.exists() else 0
        for e in jlog.follow(rec.log_path, size, lambda: record.load_dir(rec.dir).live_status() == "running"):
            emit(e)


def attach(container: str, no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin"),
           sig_proxy: str = typer.Option("true", "--sig-proxy", help="Forward received signals (non-TTY only)")) -> None:
    """Attach to a running container's output (and input, if it was run with -i)."""
    from imgtool.containers import attach as attaching
    from imgtool.containers import record
    from imgtool.store import Store

    if sig_proxy.lower() not in ("true", "false", "1", "0"):
        raise UsageError(f'invalid argument "{sig_proxy}" for "--sig-proxy" flag: strconv.ParseBool: parsing '
                         f'"{sig_proxy}": invalid syntax')
    rec = record.find(Store.open(), container)
    raise typer.Exit(attaching.attach(rec, stdin=not no_stdin, sig_proxy=sig_proxy.lower() in ("true", "1")))


def register(app: typer.Typer) -> None:
    """Add the container verbs to the top-level app."""
    app.command("run", context_settings={"allow_interspersed_args": False})(run)
    for fn in (start, stop, kill, rm, restart, wait, logs, attach):
        app.command(fn.__name__)(fn)
