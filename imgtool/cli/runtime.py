"""CLI for the runtime: `imgtool unpack`, the runc-style `imgtool runtime` verbs, `run --runtime` (`run`
itself is in containers.py)."""

from pathlib import Path

import typer


def run_with_runtime(runtime: str, image: str, command, env, workdir, user, entrypoint, hostname, memory,
                     memory_swap, cpus, cpu_shares, pids_limit, network, read_only, volume, tty, cap_add, cap_drop,
                     security_opt) -> None:
    """`run --runtime runc|crun`: the image unpacked to a bundle and run by that runtime, foreground."""
    from imgtool.containers.mounts import parse_volume
    from imgtool.runtime.bundle import Overrides
    from imgtool.runtime.oci_runtime import run_with
    from imgtool.runtime.resources import from_flags
    from imgtool.runtime.seccomp_profile import from_security_opts
    from imgtool.store import Store

    binds = [parse_volume(v) for v in volume]
    ov = Overrides(args=list(command) if command else None,
                   entrypoint=([entrypoint] if entrypoint else []) if entrypoint is not None else None,
                   env=[e for e in env if "=" in e], workdir=workdir, user=user, hostname=hostname or None,
                   terminal=tty, read_only=read_only, network="host" if network == "host" else "none",
                   volumes=[(m["source"], m["target"], m["readonly"]) for m in binds if m["type"] == "bind"],
                   resources=from_flags(memory, memory_swap, cpus, cpu_shares, pids_limit), cap_add=list(cap_add),
                   cap_drop=list(cap_drop), seccomp=from_security_opts(list(security_opt)))
    raise typer.Exit(run_with(runtime, Store.open(), image, ov))


def unpack(ref: str = typer.Argument(..., help="Image reference in the store."),
           bundle: Path = typer.Argument(..., help="Bundle directory to create (must not exist or be empty)."),
           quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
           verify: bool = typer.Option(False, "--verify",
                                       help="Re-hash every layer, even those the store verified before.")) -> None:
    """Write an OCI runtime bundle: rootfs/ plus config.json (for runc, crun or `imgtool runtime`)."""
    from imgtool.runtime.progress import for_terminal
    from imgtool.runtime.unpack import unpack_image
    from imgtool.store import Store

    progress = for_terminal(quiet)
    try:
        unpack_image(Store.open(), ref, bundle, progress=progress, verify=verify)
    finally:
        progress.close()


def runtime(ctx: typer.Context) -> None:
    """OCI runtime verbs: runc's command line (the same code as `imgtool-runc`; try `imgtool runtime --help`)."""
    from imgtool.runtime.runc import main

    raise typer.Exit(main(list(ctx.args), prog="imgtool runtime", logrus=False))


def register(app: typer.Typer) -> None:
    """Add `unpack` and the `runtime` group to the top-level app."""
    app.command("unpack")(unpack)
    app.command("runtime", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                             "allow_interspersed_args": False, "help_option_names": []})(runtime)
