#!/usr/bin/env python3
"""Write docs/cli.md, the CLI reference, from the command tree itself (the same help users see).

    python3 scripts/cli-reference.py            # rewrite docs/cli.md
    python3 scripts/cli-reference.py --check    # exit 1 if docs/cli.md is out of date

tests/cli/test_help.py runs --check, so the reference can never drift from the code.
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


def main() -> int:
    """Rewrite or check docs/cli.md."""
    target = REPO / "docs" / "cli.md"
    text = render()
    if "--check" in sys.argv[1:]:
        if not target.exists() or target.read_text() != text:
            print("docs/cli.md is out of date: run python3 scripts/cli-reference.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
