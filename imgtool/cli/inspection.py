"""`imgtool inspect` (docker's JSON, `--layers`, `--secrets`) and `imgtool history`."""

import contextlib
import json
from typing import Optional

import typer

from imgtool.errors import ImgtoolError

_SEVERITIES = ("low", "medium", "high", "critical")


def inspect(
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Go template (docker's paths, e.g. '{{.Config.Env}}'); with --layers/--secrets: table, json or sarif."),
    layers: bool = typer.Option(False, "--layers", help="Per layer: sizes, files added/modified/deleted, bytes shipped but invisible; dive's efficiency."),
    secrets: bool = typer.Option(False, "--secrets", help="Scan every file of every layer, the config and the history for secrets."),
    files: Optional[int] = typer.Option(None, "--files", metavar="N", help="With --layers: list layer N's changes."),
    lowest_efficiency: Optional[str] = typer.Option(None, "--lowest-efficiency", help="CI: fail if dive's efficiency is below this (0-1)."),
    highest_wasted_bytes: Optional[str] = typer.Option(None, "--highest-wasted-bytes", help="CI: fail if dive's wasted bytes exceed this (20MB, 1GiB)."),
    highest_user_wasted_percent: Optional[str] = typer.Option(None, "--highest-user-wasted-percent", help="CI: fail if dive's user wasted ratio exceeds this (0-1)."),
    show_secrets: bool = typer.Option(False, "--show-secrets", help="Print secrets in full (redacted by default)."),
    show_suppressed: bool = typer.Option(False, "--show-suppressed", help="Also list findings suppressed as examples, vendored/test/doc paths or by the allowlist."),
    allow_rule: list[str] = typer.Option([], "--allow-rule", metavar="RULE", help="Suppress a rule id (repeatable)."),
    allow_path: list[str] = typer.Option([], "--allow-path", metavar="GLOB", help="Suppress findings in paths matching GLOB (repeatable)."),
    allow_hash: list[str] = typer.Option([], "--allow-hash", metavar="SHA256", help="Suppress a secret by its secret_sha256 or fingerprint (repeatable)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", metavar="SEVERITY", help="Exit 1 if a finding is at this severity or above (low, medium, high, critical)."),
    max_file_size: str = typer.Option("10MiB", "--max-file-size", help="Skip files larger than this in the secret scan."),
) -> None:
    """Display an image's configuration as `docker image inspect` does, or its layers and secrets."""
    from imgtool.inspect import ci
    from imgtool.inspect.source import open_source

    rules = ci.Rules.parse(lowest_efficiency, highest_wasted_bytes, highest_user_wasted_percent)
    if fail_on is not None and fail_on not in _SEVERITIES:
        raise ImgtoolError(f"--fail-on {fail_on!r}: expected one of {', '.join(_SEVERITIES)}")
    if (files is not None or rules.any) and not layers:
        raise ImgtoolError("--files and the CI thresholds need --layers")
    if not (layers or secrets):
        _docker_inspect(images, fmt)
        return
    view = fmt or "table"
    if view not in ("table", "json", "sarif") or (view == "sarif" and not secrets):
        raise ImgtoolError(f"--format {view!r}: expected table or json" + (" or sarif" if secrets else ""))
    max_file = ci.parse_bytes(max_file_size, "--max-file-size")
    allow = _allowlist(allow_rule, allow_path, allow_hash)
    failed = False
    docs = []
    for name in images:
        with contextlib.closing(open_source(name)) as source:
            doc, text, bad = _views(source, layers, secrets, files, rules, view, show_secrets,
                                    show_suppressed, allow, fail_on, max_file)
        failed |= bad
        docs.append(doc if view != "table" else text)
    if view == "table":
        typer.echo("\n\n".join(docs))
    else:
        typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


def _allowlist(rules: list[str], paths: list[str], hashes: list[str]):  # noqa: ANN202
    from imgtool.inspect.scan import Allowlist

    return Allowlist(tuple(rules), tuple(paths), tuple(h.removeprefix("sha256:").lower() for h in hashes))


def _views(source, layers, secrets, files, rules, view, show_secrets, show_suppressed, allow, fail_on, max_file):  # noqa: ANN001,ANN202
    """One image's documents: (json doc, table text, failed?)."""
    from imgtool import __version__
    from imgtool.inspect import ci, layers as layersmod, report, scan
    from imgtool.inspect.analysis import analyze

    result = analyze(source, secrets=secrets, max_file=max_file)
    doc: dict = {}
    texts = []
    failed = False
    if secrets:
        scan.suppress(result.findings, allow)
        findings = scan.order(result.findings)
        secret_doc = report.to_dict(source, findings, result.stats, show_secrets, show_suppressed)
        if fail_on is not None:
            failed |= report.at_least(findings, fail_on)
    if layers:
        if files is not None and not 0 <= files < len(source.layers):
            raise ImgtoolError(f"--files {files}: image {source.name} has layers 0 to {len(source.layers) - 1}")
        built = layersmod.build(source, result.members, result.changes)
        doc = layersmod.to_dict(built, files)
        if secrets and not show_secrets:   # the history lines shown with the layers must not leak either
            for layer in doc["layers"]:
                layer["created_by"] = report.scrub(layer["created_by"], result.findings)
        texts.append(layersmod.render_table(doc))
        if rules.any:
            verdicts = ci.evaluate(rules, built.dive)
            doc["ci"] = [{"rule": r, "pass": ok, "detail": msg} for r, ok, msg in verdicts]
            texts.append("\n".join(f"{'PASS' if ok else 'FAIL'}: {r}: {msg}" for r, ok, msg in verdicts))
            failed |= not all(ok for _, ok, _ in verdicts)
    if secrets:
        texts.append(report.render_table(secret_doc))
        if view == "sarif":
            secret_doc = report.to_sarif(secret_doc, __version__)
        doc = {"image": source.name, "id": source.id, "layers": doc, "secrets": secret_doc} if layers else secret_doc
    return doc, "\n\n".join(texts), failed


def _docker_inspect(names: list[str], fmt: Optional[str]) -> None:
    from imgtool.inspect import docker
    from imgtool.inspect.gotemplate import Template
    from imgtool.inspect.source import open_source

    template = Template(fmt) if fmt not in (None, "json") else None
    objects = []
    for name in names:
        found = _container(name)  # docker inspect: a container by that name or ID first, then an image
        if found is not None:
            objects.append(found)
            continue
        with contextlib.closing(open_source(name)) as source:
            objects.append(docker.inspect(source, sum(_layer_sizes(source))))
    if template is None:
        typer.echo(json.dumps(objects, indent=4, ensure_ascii=False))
        return
    for obj in objects:
        typer.echo(template.render(obj))


def _container(ref: str) -> dict | None:
    """The container `ref` names, as `docker inspect` shows it, or None if none does."""
    from imgtool.containers import inspect as cinspect
    from imgtool.containers import record
    from imgtool.errors import NotFoundError
    from imgtool.store import Store

    try:
        return cinspect.document(record.find(Store.open(), ref))
    except NotFoundError:
        return None


def _layer_sizes(source) -> list[int]:  # noqa: ANN001
    """Content bytes per layer: the store's cache when the image is in the store, else one pass."""
    from imgtool.inspect.analysis import analyze

    return source.cached_sizes() if source.cached_sizes is not None else analyze(source).layer_sizes


_HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                    "Size": "SIZE", "Comment": "COMMENT"}


def history(
    image: str = typer.Argument(..., metavar="IMAGE"),
    human_flag: str = typer.Option("true", "--human", "-H", help="Print sizes and dates in human readable format (true/false)."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only show image IDs."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, table, 'table TEMPLATE' or a Go template over .ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment."),
) -> None:
    """Show the history of an image, as `docker history` does."""
    from imgtool.inspect import docker
    from imgtool.inspect.source import open_source

    from .listing import render

    human_flag = human_flag.removeprefix("=")
    if human_flag.lower() not in ("true", "false", "1", "0"):
        raise ImgtoolError(f"--human {human_flag!r}: expected true or false")
    human = human_flag.lower() in ("true", "1")
    with contextlib.closing(open_source(image)) as source:
        rows = docker.history(source, _layer_sizes(source), human, no_trunc)
    if quiet:
        for row in rows:
            typer.echo(row["ID"])
        return
    created = "{{.CreatedSince}}" if human else "{{.CreatedAt}}"
    default = "table {{.ID}}\t" + created + "\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    for line in render(rows, fmt, default, _HISTORY_HEADERS):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add `inspect` and `history` to the top-level app."""
    app.command()(inspect)
    app.command()(history)
