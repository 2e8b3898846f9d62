"""COPY --from: what a step selects in another stage's (or image's) filesystem, and its content identity.

Why a content key instead of the other stage's ChainID: BuildKit keys a copy by the checksum of
what it selects, so a stage that re-ran (a changed script) but produced the same files lets every
COPY --from of them hit the cache, and the final image does not change. The checksum is taken in a
private mount namespace over the stage's snapshots, once per (ChainID, selection): a snapshot never
changes, so it is remembered in the build cache and a rebuilt stage costs one walk of what it copies.
A `RUN --mount=type=cache,from=stage` starts its cache as a copy of a directory of that stage (copy_dir).
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from imgtool.dockerfile import PatternMatcher
from imgtool.errors import ImgtoolError

from . import files
from .context import Tree, checksum_sources, excluded
from .session import BuildError


def select(tree: Tree, patterns: Sequence[str], excludes: PatternMatcher | None, what: str) -> list[files.Source]:
    """The sources a COPY --from's patterns select in `tree` (minus --exclude), in copy order."""
    out = []
    for pattern in patterns:
        for sel in tree.select(pattern, f"{what} {pattern}"):
            if excludes is not None and excludes.matches_or_parent_matches(sel.rel):
                continue
            members = tuple((m, st) for m, st in tree.walk(sel.rel)
                            if not excluded(excludes, m, sel.rel)) if sel.is_dir else ()
            # a symlinked source is copied as what it points to, under its own name (BuildKit)
            out.append(files.Source(sel.rel, sel.st, members, name=posixpath.basename(sel.named),
                                    pivot=files.pivot(pattern)))
    return out


def mount(lowers: list[Path], scratch: Path) -> Path:
    """Mount a stage's filesystem read-only under `scratch` (inside a private mount namespace)."""
    from imgtool.runtime import step

    target = scratch / "from"
    target.mkdir(exist_ok=True)
    if lowers:
        step.mount_readonly(lowers, target)
    return target


def checksum(lowers: list[Path], patterns: Sequence[str], excludes: PatternMatcher | None, what: str,
             scratch_dir: Path) -> str:
    """The content checksum (builder/context.py's, mtime-blind, owners included: the copy keeps
    them) of what the patterns select in the filesystem of snapshot dirs `lowers` (top first)."""
    from imgtool.runtime.snapshots import in_private_mounts

    scratch = Path(tempfile.mkdtemp(prefix="from-", dir=scratch_dir))

    def job() -> str:
        tree = Tree(mount(lowers, scratch), None, confine_links=False)
        return checksum_sources(tree, select(tree, patterns, excludes, what), owners=True)

    try:
        return in_private_mounts(job)
    except ImgtoolError as exc:
        message = str(exc)
        raise BuildError(message if message.startswith(what) else f"{what}: {message}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def copy_dir(lowers: list[Path], source: str, dest: Path, what: str, scratch_dir: Path) -> None:
    """Copy directory `source` of the filesystem of snapshot dirs `lowers` into `dest`, owners,
    modes and links kept (`cp -a`, as snapshots.py copies): the first content of a cache mount
    with `from=`, which BuildKit starts from that stage's snapshot. `source` is resolved inside
    the stage (its symlinks never reach the host)."""
    from imgtool.runtime.snapshots import in_private_mounts

    scratch = Path(tempfile.mkdtemp(prefix="from-", dir=scratch_dir))

    def job() -> None:
        tree = Tree(mount(lowers, scratch), None, confine_links=False)
        found = tree.select(source, f"{what} {source}")
        if len(found) != 1 or not found[0].is_dir:
            raise BuildError(f"{what} {source}: not a directory")
        origin = tree.root / found[0].rel if found[0].rel else tree.root
        done = subprocess.run(["cp", "-a", "--", f"{origin}/.", str(dest)], capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"{what} {source}: {done.stderr.strip()}")

    try:
        in_private_mounts(job)
    except ImgtoolError as exc:
        message = str(exc)
        raise BuildError(message if message.startswith(what) else f"{what}: {message}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
