"""`imgtool build` (docker build's flags) and `imgtool builder prune`."""

import io
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import typer

from imgtool.errors import ImgtoolError

builder_app = typer.Typer(help="Manage the build cache.", no_args_is_help=True)


def _key_values(items: list[str], flag: str, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise ImgtoolError(f"{flag} {item!r}: expected KEY=VALUE")
        if not eq:
            if not from_env:
                raise ImgtoolError(f"{flag} {item!r}: expected KEY=VALUE")
            if key not in os.environ:
                continue  # docker: a bare --build-arg NAME not in the environment is ignored
            value = os.environ[key]
        out[key] = value
    return out


def _secrets(specs: list[str]) -> dict[str, bytes]:
    """--secret id=ID[,src=FILE|,env=VAR] (docker/buildx syntax; `source`, `type=file|env` too)."""
    out: dict[str, bytes] = {}
    for spec in specs:
        fields = dict(f.partition("=")[::2] for f in spec.split(","))
        secret_id = fields.get("id")
        src = fields.get("src") or fields.get("source")
        env = fields.get("env")
        if not secret_id:
            raise ImgtoolError(f"--secret {spec!r}: id= is required")
        if env is None and src is None and fields.get("type") != "file":
            env = secret_id if secret_id in os.environ else None
            src = None if env else secret_id
        if env is not None:
            if env not in os.environ:
                raise ImgtoolError(f"--secret {spec!r}: environment variable {env} is not set")
            out[secret_id] = os.environ[env].encode()
            continue
        try:
            out[secret_id] = Path(src or secret_id).read_bytes()
        except OSError as exc:
            raise ImgtoolError(f"--secret {spec!r}: cannot read {src}: {exc.strerror}") from None
    return out


def _output(spec: str | None) -> tuple[str, str] | None:
    if not spec:
        return None
    fields = dict(f.partition("=")[::2] for f in spec.split(","))
    kind, dest = fields.get("type"), fields.get("dest")
    if kind not in ("oci", "oci-layout", "docker") or not dest:
        raise ImgtoolError(f"--output {spec!r}: expected type=oci|oci-layout|docker,dest=PATH")
    return kind, dest


def _read_context(context: str, dockerfile: str | None) -> tuple[Path | None, str, str, Path | None, Path | None]:
    """(context dir, Dockerfile text, its name, its path, a temp dir to remove)."""
    temp: Path | None = None
    ctx: Path | None
    if context == "-":
        data = sys.stdin.buffer.read()
        if len(data) > 262 and data[257:262] == b"ustar" or data[:2] == b"\x1f\x8b":
            from imgtool.layer.verify import VerifiedLayer
            from imgtool.runtime.applier import apply_layer

            temp = Path(tempfile.mkdtemp(prefix="imgtool-context-"))
            # the runtime's in-root applier: a context tar is hostile input, and Debian 12's Python
            # (3.11.2) has no tarfile extraction filters
            with VerifiedLayer(io.BytesIO(data)) as stream:
                apply_layer(stream, temp)
            ctx = temp
        else:
            return None, data.decode("utf-8", "surrogateescape"), "Dockerfile", None, None
    else:
        ctx = Path(context)
        if not ctx.is_dir():
            raise ImgtoolError(f"unable to prepare context: path {context!r} not found")
        ctx = ctx.resolve()
    if dockerfile == "-":
        return ctx, sys.stdin.read(), "Dockerfile", None, temp
    path = Path(dockerfile) if dockerfile else ctx / "Dockerfile"
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        raise ImgtoolError(f"failed to read dockerfile: open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise ImgtoolError(f"failed to read dockerfile: {path} is a directory") from None
    return ctx, text, path.name, path, temp


def build(
    context: str = typer.Argument(..., metavar="CONTEXT|-", help="Build context directory, or - for stdin."),
    tag: List[str] = typer.Option([], "-t", "--tag", help="Name and optionally a tag (name:tag)."),
    file: Optional[str] = typer.Option(None, "-f", "--file", help="Dockerfile (default: CONTEXT/Dockerfile; - for stdin)."),
    target: Optional[str] = typer.Option(None, "--target", help="Build this stage."),
    build_arg: List[str] = typer.Option([], "--build-arg", help="K=V (or K, taken from the environment)."),
    secret: List[str] = typer.Option([], "--secret", help="id=ID[,src=FILE|,env=VAR]"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the build cache."),
    compression: str = typer.Option("gzip", "--compression", help="Layer compression: gzip or zstd."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Target platform (os/arch)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="type=oci|oci-layout|docker,dest=PATH"),
    push: bool = typer.Option(False, "--push", help="Push the image after building."),
    network: str = typer.Option("host", "--network", help="RUN network: host or none."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m"),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap"),
    cpu_shares: Optional[str] = typer.Option(None, "--cpu-shares", "-c"),
    cpus: Optional[str] = typer.Option(None, "--cpus"),
    pids_limit: Optional[str] = typer.Option(None, "--pids-limit"),
    progress: str = typer.Option("auto", "--progress", help="auto, plain, tty or rawjson."),
    check: bool = typer.Option(False, "--check", help="Run the build checks only."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", help="Write the image ID to this file."),
    label: List[str] = typer.Option([], "--label", help="K=V label for the image."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image ID."),
    fail_on_secrets: bool = typer.Option(False, "--fail-on-secrets", help="Fail if the image ships a secret (imgtool inspect --secrets)."),
) -> None:
    """Build an image from a Dockerfile (docker build, with no daemon)."""
    from imgtool.builder.session import Options
    from imgtool.oci import reference

    from imgtool.layer.compression import Compression
    from imgtool.runtime.resources import from_flags

    compression = Compression.parse(compression).value
    if progress not in ("auto", "plain", "tty", "rawjson", "quiet"):
        raise ImgtoolError(f"--progress {progress!r}: expected auto, plain, tty or rawjson")
    if network not in ("host", "none", "default"):
        raise ImgtoolError(f"--network {network!r}: expected host or none")
    for name in tag:
        reference.parse(name)
    out_spec = _output(output)
    if push and not tag:
        raise ImgtoolError("--push needs a name to push to (-t)")
    ctx, text, name, path, temp = _read_context(context, file)
    try:
        options = Options(
            context=ctx, dockerfile=text, dockerfile_name=name, dockerfile_path=path, tags=list(tag), target=target,
            build_args=_key_values(build_arg, "--build-arg", True), secrets=_secrets(secret), no_cache=no_cache,
            compression=compression, platform=platform, network="host" if network == "default" else network,
            resources=from_flags(memory=memory, memory_swap=memory_swap, cpus=cpus, cpu_shares=cpu_shares,
                                 pids_limit=pids_limit),
            labels=_key_values(label, "--label", False), progress="quiet" if quiet else progress,
        )
        if check:
            raise typer.Exit(_check_only(options))
        _build(options, out_spec, push, iidfile, quiet, fail_on_secrets)
    finally:
        if temp is not None:
            import shutil

            shutil.rmtree(temp, ignore_errors=True)


def _check_only(options) -> int:  # noqa: ANN001
    from imgtool import dockerfile as df

    d = df.parse(options.dockerfile, options.dockerfile_name)
    warnings = df.run_checks(d, options.build_args)
    for w in warnings:
        print(f"WARNING: {w.rule} - {w.url}\n{w}", file=sys.stderr)
    if not warnings:
        print("Check complete, no warnings found.", file=sys.stderr)
    return 1 if warnings and d.check_config().error else 0


def _build(options, out_spec, push: bool, iidfile: str | None, quiet: bool, fail_on_secrets: bool) -> None:  # noqa: ANN001
    import functools

    from imgtool import dockerfile as df
    from imgtool.builder import hooks
    from imgtool.builder.build import Build
    from imgtool.builder.progress import Progress
    from imgtool.store import Store

    store = Store.open()
    progress = Progress("plain" if options.progress == "quiet" else options.progress,
                        open(os.devnull, "w", errors="replace") if quiet else None)
    after = functools.partial(hooks.after_build, fail_on_secrets=fail_on_secrets, tags=tuple(options.tags),
                              report=None if quiet else lambda line: print(line, file=sys.stderr))
    runner = Build(store, options, progress, on_image=after)
    d = runner.parse()
    warnings = df.run_checks(d, options.build_args)
    if warnings and d.check_config().error:
        # `# check=error=true`: BuildKit's linter fails the build before any step runs, naming
        # the rules found (sorted, once each)
        _print_warnings(warnings)
        rules = ", ".join(sorted({w.rule for w in warnings}))
        raise ImgtoolError(f"{d.filename}:{warnings[0].line}: lint violation found for rules: {rules}")
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = runner.run()
    except ImgtoolError:
        _show_failure(progress, quiet)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if warnings and not quiet:
        _print_warnings(warnings)
    if iidfile:
        Path(iidfile).write_text(result.image_id)
    if out_spec is not None:
        _export(store, result, out_spec, options.tags)
    if push:
        _push(store, options.tags)
    if quiet:
        print(result.image_id)


def _print_warnings(warnings: list) -> None:
    print(f"\n {len(warnings)} warning{'s' if len(warnings) > 1 else ''} found:", file=sys.stderr)
    for w in warnings:
        print(f" - {w.rule}: {w.message} (line {w.line})", file=sys.stderr)


def _show_failure(progress, quiet: bool) -> None:  # noqa: ANN001
    """BuildKit's failure box: the failed step and the tail of its output."""
    failed = [v for v in progress.vertices if v.error]
    for v in failed[:1]:
        if not v.tail:
            continue
        print(f"------\n > {v.name}:", file=sys.stderr)
        for line in v.tail:
            print(line, file=sys.stderr)
        print("------", file=sys.stderr)


def _export(store, result, spec: tuple[str, str], tags: list[str]) -> None:  # noqa: ANN001
    from imgtool import remote

    kind, dest = spec
    remote.export(store, result.descriptor, tags or [], kind, dest)


def _push(store, tags: list[str]) -> None:  # noqa: ANN001
    from imgtool import remote

    for name in tags:
        remote.push(store, name)


def prune(
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt (accepted for docker compatibility)."),
) -> None:
    """Remove the build cache (cached steps, cache mounts, unused snapshots)."""
    from imgtool.builder.cache import BuildCache
    from imgtool.inspect.docker import human_size
    from imgtool.store import Store

    from .images import gc_owners

    gc_owners()  # containers keep their images' snapshots: prune must ask them
    freed = BuildCache(Store.open()).prune()
    print(f"Total:\t{human_size(freed)}")


def register(app: typer.Typer) -> None:
    """Add `build` and the `builder` group."""
    app.command(context_settings={"allow_interspersed_args": True})(build)
    builder_app.command("prune")(prune)
    app.add_typer(builder_app, name="builder")
