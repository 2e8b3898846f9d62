"""`imgtool debug ...`: look inside imgtool's own machinery (today: the Dockerfile parser)."""

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from imgtool import dockerfile


class ParseFormat(str, Enum):
    """Output formats of `debug parse`."""

    dump = "dump"
    json = "json"


def _node_json(node: "dockerfile.Node") -> dict[str, Any]:
    out: dict[str, Any] = {
        "instruction": node.keyword.upper(),
        "keyword": node.value,
        "flags": list(node.flags),
        "args": list(node.args),
        "json": node.is_json,
        "start_line": node.start_line,
        "end_line": node.end_line,
    }
    if node.sub is not None:
        out["onbuild"] = _node_json(node.sub)
    if node.heredocs:
        out["heredocs"] = [
            {"name": h.name, "fd": h.file_descriptor, "expand": h.expand, "chomp": h.chomp, "content": h.content}
            for h in node.heredocs
        ]
    return out


def _document(parsed: "dockerfile.ParseResult", text: str, name: str) -> dict[str, Any]:
    from imgtool import dockerfile

    out: dict[str, Any] = {
        "escape": parsed.escape,
        "directives": [{"name": d.name, "value": d.value, "line": d.line} for d in parsed.directives],
        "instructions": [_node_json(n) for n in parsed.nodes],
        "warnings": [{"rule": w.rule, "message": w.message, "line": w.line} for w in parsed.warnings],
    }
    try:  # the AST is printable even when BuildKit would reject an instruction later
        typed = dockerfile.parse(text, name)
    except dockerfile.DockerfileError as exc:
        out["error"] = str(exc)
        return out
    out["meta_args"] = [{"name": a.key, "default": a.value, "line": arg.line} for arg in typed.meta_args for a in arg.args]
    out["stages"] = [
        {"index": s.index, "name": s.name, "base": s.from_.base, "platform": s.from_.platform, "line": s.from_.line}
        for s in typed.stages
    ]
    return out


def parse(
    file: Annotated[Path, typer.Argument(help="The Dockerfile to parse ('-' for standard input).")] = Path("Dockerfile"),
    fmt: Annotated[ParseFormat, typer.Option("--format", help="dump: BuildKit's AST dump; json: for people and tools.")] = ParseFormat.dump,
    file_option: Annotated[Path | None, typer.Option("-f", "--file", help="The Dockerfile (same as the argument).")] = None,
) -> None:
    """Parse a Dockerfile without building it and print its instructions."""
    from imgtool import dockerfile

    path = file_option or file
    if str(path) == "-":
        text, name = sys.stdin.buffer.read().decode("utf-8", "surrogateescape"), "Dockerfile"
    else:
        try:
            text, name = path.read_bytes().decode("utf-8", "surrogateescape"), path.name
        except OSError as exc:
            raise dockerfile.DockerfileError(f"cannot read {path}: {exc.strerror}") from None
    parsed = dockerfile.parse_nodes(text, name)
    if fmt is ParseFormat.dump:
        output = dockerfile.dump(parsed.nodes)
    else:
        output = json.dumps(_document(parsed, text, name), indent=2, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(output.encode("utf-8", "surrogateescape"))


def register(app: typer.Typer) -> None:
    """Add the `debug` group to the top-level app."""
    group = typer.Typer(name="debug", help="Inspect imgtool's internals (parser output, ...).", no_args_is_help=True)
    group.command("parse")(parse)
    app.add_typer(group, name="debug")
