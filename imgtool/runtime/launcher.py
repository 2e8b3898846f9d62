"""A fast `imgtool-runc` launcher: `python3 -I -S` plus this checkout on sys.path.

Why: the pip-generated console script runs the interpreter with `site`, which imports every
.pth hook of site-packages (editable-install finders, certifi patches: 20-35 ms here) before
imgtool's code starts, on every one of the several calls an orchestrator makes per container.
imgtool-runc needs only the standard library, so it can skip site (-S) and the environment (-I)
and name its own package directory instead.

    python3 -m imgtool.runtime.launcher /usr/local/bin/imgtool-runc
"""

from __future__ import annotations

import os
import sys

_TEMPLATE = """#!{python} -IS
# imgtool-runc, written by `python3 -m imgtool.runtime.launcher`: runc's CLI over imgtool's runtime
import sys
sys.path.insert(0, {root!r})
from imgtool.runtime.runc import entry
entry()
"""


def write(path: str) -> str:
    """Write an executable launcher at `path` for this interpreter and this imgtool checkout."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(_TEMPLATE.format(python=os.path.realpath(sys.executable), root=root))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m imgtool.runtime.launcher PATH")
    print(write(sys.argv[1]))
