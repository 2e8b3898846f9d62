"""Image management commands: import, images, tag, rmi, save, load, prune (docker's names and flags)."""

import json
import time
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Optional

import typer

from imgtool.errors import ImgtoolError, NotFoundError

if TYPE_CHECKING:
    from imgtool.store import Store

# The store, codec and schema modules are imported inside each command: every `imgtool` run pays
# for what it imports, and `imgtool run` or `--help` should not pay for archives and schemas.


def _store() -> "Store":
    from imgtool.store import Store

    return Store.open()


@contextmanager
def _input(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImgtoolError(f"{path}: is a directory, expected a tar file") from None
    with f:
        yield f


def import_(
    source: str = typer.Argument(..., metavar="ROOTFS.tar", help="Root filesystem tarball (plain, gzip or zstd); - for stdin."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Name for the image (repeatable)."),
    change: list[str] = typer.Option([], "--change", "-c", help="Dockerfile instruction to apply (CMD, ENV, ...)."),
    compression: str = typer.Option("gzip", "--compression", help="Layer compression: gzip, zstd or none."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; print only the image ID."),
) -> None:
    """Create a base image from a root filesystem tarball (like `docker import`)."""
    from imgtool.builder.imageconfig import apply_changes
    from imgtool.layer.compression import Compression
    from imgtool.oci import reference
    from imgtool.oci.config import ContainerConfig
    from imgtool.remote.progress import reading
    from imgtool.store import rootfs

    kind = Compression.parse(compression)
    for name in tag:
        reference.parse(name)  # reject bad names before any work
    config = apply_changes(ContainerConfig(), change)
    store = _store()
    with _input(source) as f, reading(f, f"Importing {Path(source).name}", quiet) as tracked:
        descriptor = rootfs.import_rootfs(store, tracked, tag, Path(source).name, config=config, kind=kind)
    typer.echo(str(descriptor.digest))


_IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
                  "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}


def images(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only show image IDs."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs."),
    digests: bool = typer.Option(False, "--digests", help="Show manifest digests."),
    fmt: Optional[str] = typer.Option(None, "--format", help="table, json (one object per line, docker's keys), 'table TEMPLATE' or a Go template such as '{{.Repository}}:{{.Tag}}'."),
) -> None:
    """List images in the store (names from index.json, written by imgtool or by other tools)."""
    from imgtool.inspect.units import human_duration, human_size
    from imgtool.oci import reference
    from imgtool.store.sizes import image_content_size

    from .listing import render

    store = _store()
    now = time.time()
    rows = []
    for entry in store.images():
        try:
            image = store.load(entry.descriptor)
        except ImgtoolError as exc:
            typer.echo(f"imgtool: skipping {entry.name or entry.descriptor.digest}: {exc}", err=True)
            continue
        ref = reference.parse(entry.normalized) if entry.normalized else None
        size = image_content_size(store, image)
        created = image.config.created or ""
        rows.append({  # docker images --format json's keys and value shapes
            "Containers": "N/A",
            "CreatedAt": _created_at(created),
            "CreatedSince": _since(created, now, human_duration),
            "Digest": str(entry.descriptor.digest),
            "ID": image.id if no_trunc else image.id.removeprefix("sha256:")[:12],
            "Repository": ref.familiar_name if ref else "<none>",
            "SharedSize": "N/A",
            "Size": human_size(size),
            "Tag": (ref.tag or "<none>") if ref else "<none>",
            "UniqueSize": "N/A",
            "VirtualSize": human_size(size),
        })
    if quiet:
        for row in rows:
            typer.echo(row["ID"])
        return
    default = "table {{.Repository}}\t{{.Tag}}\t" + ("{{.Digest}}\t" if digests else "") + \
        "{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    for line in render(rows, fmt, default, _IMAGE_HEADERS):
        typer.echo(line)


def _created_at(created: str) -> str:
    """docker's CreatedAt: `2024-05-14 10:00:00 +0000 UTC`."""
    return f"{created[:10]} {created[11:19]} +0000 UTC" if len(created) >= 19 else ""


def _print_table(table: list[list[str]]) -> None:
    """Columns padded to their widest cell, three spaces apart (docker's tables)."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        typer.echo("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _since(created: str, now: float, human_duration) -> str:
    """docker's CREATED column: "3 minutes ago" (N/A when the config has no valid date)."""
    import calendar

    try:
        seconds = calendar.timegm(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "N/A"
    return f"{human_duration(max(0.0, now - seconds))} ago"


def tag(source: str = typer.Argument(..., metavar="SOURCE"), target: str = typer.Argument(..., metavar="TARGET")) -> None:
    """Give an image another name."""
    _store().tag_ref(source, target)


def rmi(names: list[str] = typer.Argument(..., metavar="IMAGE..."),
        force: bool = typer.Option(False, "--force", "-f", help="Remove every name of an image given by ID.")) -> None:
    """Remove image names (run `imgtool prune` to free the blobs no name reaches any more).

    docker's rule for an image a container was made from: its last name goes only with -f, and the
    image then stays, as `<none>`, until the container is removed.
    """
    from imgtool.containers.record import users_of

    store = _store()
    for name in names:
        entry = store.find(name)
        image_id = store.resolve(name).id
        names_left = [e for e in store.images() if e.name is not None and e.descriptor.digest == entry.descriptor.digest]
        users = users_of(store, image_id) if len(names_left) <= 1 or entry.name is None or force else []
        if users and not force:
            raise ImgtoolError(f'conflict: unable to remove repository reference "{name}" (must force) - container '
                               f"{users[0][:12]} is using its referenced image {image_id.removeprefix('sha256:')[:12]}")
        for removed in store.untag(name, force):
            typer.echo(f"Untagged: {removed.shown}")
        if users:
            store.name([(entry.descriptor, [])])  # kept as <none> while a container uses it


def save(
    names: list[str] = typer.Argument(..., metavar="IMAGE..."),
    output: str = typer.Option(..., "--output", "-o", help="Archive to write (- for stdout)."),
    fmt: str = typer.Option("oci", "--format", help="oci (OCI image layout tar) or docker (docker save format)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Save images to a tar archive (written to a temp file and renamed: never half-written)."""
    from imgtool import remote
    from imgtool.atomicfile import replacing
    from imgtool.remote import tarball
    from imgtool.remote.progress import for_terminal

    if fmt not in (tarball.OCI, tarball.DOCKER):
        raise ImgtoolError(f"--format {fmt!r}: expected oci or docker")
    store = _store()

    def write(out: BinaryIO) -> None:
        entries = [store.find(n) for n in names]
        progress = for_terminal(quiet, plain=False)
        try:
            remote.save(store, [(e.descriptor, [e.normalized] if e.normalized else []) for e in entries], out, fmt,
                        progress)
        finally:
            progress.close()

    if output == "-" and sys.stdout.isatty():
        raise ImgtoolError("cowardly refusing to write an archive to a terminal (use -o FILE or a pipe)")
    dest = Path(output)
    if output != "-" and dest.is_dir():
        raise ImgtoolError(f"{output}: is a directory")
    if output != "-" and not dest.parent.is_dir():
        raise NotFoundError(f"{output}: directory does not exist")
    with store.writing():  # a racing prune waits: what save found stays until it is written
        if output == "-":
            write(sys.stdout.buffer)
            return
        with replacing(dest) as out:
            write(out)


def load(input_: str = typer.Option("-", "--input", "-i", help="Archive to read (OCI or docker-archive; - for stdin)."),
         quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (the loaded names are still printed, as docker does).")) -> None:
    """Load images from an OCI archive or a `docker save` tarball."""
    from imgtool import remote
    from imgtool.oci import reference
    from imgtool.remote.progress import reading

    store = _store()
    what = Path(input_).name if input_ != "-" else "stdin"
    with _input(input_) as f, reading(f, f"Loading {what}", quiet) as tracked:
        for name in remote.load(store, tracked, what):
            shown = reference.parse(name).familiar_tagged if not name.startswith("sha256:") else name
            typer.echo(f"Loaded image: {shown}")


def prune(all_: bool = typer.Option(False, "--all", "-a", help="Also remove named images no running container uses."),
          force: bool = typer.Option(False, "--force", "-f", help="Do not prompt (accepted for docker compatibility).")) -> None:
    """Remove unnamed images and everything no image name reaches: blobs, unpacked snapshots, build
    cache (like `docker system prune`)."""
    from imgtool.inspect.docker import human_size

    gc_owners()
    report = _store().prune(all_images=all_)
    for entry in report.entries:
        typer.echo(f"Deleted: {entry}")
    typer.echo(f"Deleted {len(report.blobs)} blobs and {report.snapshots} snapshots, "
               f"reclaimed {human_size(report.freed)}")


def gc_owners() -> None:
    """Import what keeps data beside the images, so that prune and df ask it (imgtool.store.gc)."""
    import imgtool.builder.cache  # noqa: F401 - the build cache
    import imgtool.containers.record  # noqa: F401 - containers and their images


system_app = typer.Typer(help="Store-wide information (docker system's verbs).", no_args_is_help=True)


@system_app.command("df")
def system_df(fmt: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """Show what uses space in the store and what `imgtool prune` would reclaim."""
    from imgtool.inspect.docker import human_size
    from imgtool.store import gc

    gc_owners()
    rows = gc.usage(_store())
    if fmt == "json":
        typer.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    if fmt != "table":
        raise ImgtoolError(f"--format {fmt!r}: expected table or json")
    table = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]]
    for row in rows:
        share = f" ({100 * row.reclaimable // row.size}%)" if row.size else ""
        table.append([row.kind, str(row.total), str(row.active), human_size(row.size), human_size(row.reclaimable) + share])
    _print_table(table)


@system_app.command("prune")
def system_prune(all_: bool = typer.Option(False, "--all", "-a", help="Also remove named images no container uses."),
                 force: bool = typer.Option(False, "--force", "-f", help="Do not prompt (there is no prompt: accepted).")) -> None:
    """Remove stopped containers, then everything no image name or container reaches (docker system prune)."""
    from imgtool.containers import lifecycle

    removed = lifecycle.prune(_store())
    typer.echo("\n".join(["Deleted Containers:", *removed]) if removed else "Deleted Containers: none")
    prune(all_, force)


def register(app: typer.Typer) -> None:
    """Add the image-management commands to the top-level app."""
    app.command("import")(import_)
    app.command()(images)
    app.command()(tag)
    app.command()(rmi)
    app.command()(save)
    app.command()(load)
    app.command()(prune)
    app.add_typer(system_app, name="system")
