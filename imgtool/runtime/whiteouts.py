"""A layer of overlayfs whiteouts that hides some paths of a directory mounted into a step.

Why: a RUN --mount=type=bind of the build context must not show what .dockerignore excludes
(BuildKit mounts its filtered copy of the context), but the context is the user's directory and
is bound as it is. Stacked above it as an overlay lower, this layer hides the excluded paths
without copying anything. Each directory it must create on the way keeps the mode and owner of
the directory it stands over, so the mount shows the context's own metadata.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path


def hiding_layer(source: Path, hidden: Iterable[str], dest: Path) -> Path:
    """Make in empty `dest` a whiteout for every path of `hidden` (relative to `source`); returns `dest`."""
    for rel in hidden:
        parts = rel.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            made = dest / parent
            if not made.is_dir():
                st = os.lstat(source / parent)
                made.mkdir()
                os.chown(made, st.st_uid, st.st_gid)
                os.chmod(made, stat.S_IMODE(st.st_mode))
        os.mknod(dest / rel.strip("/"), stat.S_IFCHR | 0o600, os.makedev(0, 0))
    return dest
