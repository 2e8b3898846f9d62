#!/usr/bin/env python3
"""Write what is generated from the command tree: docs/cli.md, the CLI reference (the same help users
see), and imgtool/cli/index.py, the names and summaries the lazy top-level group lists (cli/lazy.py).

    python3 scripts/cli-reference.py            # rewrite both
    python3 scripts/cli-reference.py --check    # exit 1 if either is out of date

tests/cli/test_help.py runs --check, so neither can drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["COLUMNS"] = "100"  # help text wraps the same wherever this runs


def render() -> str:
    """Every command's --help, in command-tree order, under a heading of its own."""
    from imgtool.cli.main import command_tree

    root = command_tree()
    parts = ["# CLI reference\n",
             "Generated from the command tree by `scripts/cli-reference.py`; every command's `--help`.\n"]

    def walk(command, path):
        ctx = command.context_class(command, info_name=" ".join(["imgtool", *path]), **command.context_settings)
        parts.append(f"\n## {' '.join(['imgtool', *path])}\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n")
        for name, sub in getattr(command, "commands", {}).items():
            if name != "runtime":  # runc's own usage text: `imgtool runtime --help` / `imgtool-runc --help`
                walk(sub, [*path, name])

    walk(root, [])
    return "".join(parts)


def _index() -> str:
    from imgtool.cli.lazy import index_source
    from imgtool.cli.main import GROUPS

    return index_source(GROUPS)


def main() -> int:
    """Rewrite or check imgtool/cli/index.py, then docs/cli.md (rendered through the index)."""
    import importlib

    from imgtool.cli import index

    stale = []
    for target, make in ((REPO / "imgtool" / "cli" / "index.py", _index), (REPO / "docs" / "cli.md", render)):
        text = make()
        if "--check" in sys.argv[1:]:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target.relative_to(REPO)))
            continue
        target.write_text(text)
        importlib.reload(index)
    if stale:
        print(f"{' and '.join(stale)} out of date: run python3 scripts/cli-reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
