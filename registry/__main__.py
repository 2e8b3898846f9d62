"""`python -m registry ...`: the same commands as `imgtool registry ...`."""

from __future__ import annotations

import sys

from imgtool.cli.registry import group
from imgtool.errors import ImgtoolError


def main() -> None:
    """Run the registry command group; a user mistake is one line on stderr, not a traceback."""
    try:
        group(prog_name="python -m registry")
    except ImgtoolError as exc:
        print(f"imgtool: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
