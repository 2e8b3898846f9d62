"""`python -m registry ...`: the same commands as `imgtool registry ...` (registry/cli.py)."""

from __future__ import annotations

import sys

from imgtool.errors import ImgtoolError

from .cli import group


def main() -> None:
    """Run the registry command group; a user mistake is one line on stderr, not a traceback."""
    try:
        group(prog_name="python -m registry")
    except ImgtoolError as exc:
        print(f"imgtool: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
