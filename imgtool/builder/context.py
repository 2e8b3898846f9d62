"""The build context: which files COPY/ADD may read, and a content checksum of what they select.

The context is a directory read in place (no transfer, no copy). `.dockerignore` (or
`<Dockerfile>.dockerignore`) hides paths from every source; a source may not leave the context,
neither by `..` nor through a symlink. Checksums follow BuildKit's contenthash: path, type, mode,
size, link target and content, never mtime or owner (COPY sets the owner), so touching a file keeps
the cache and changing a byte or a mode bit misses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from imgtool.dockerfile import DockerfileError, PatternMatcher
from imgtool.dockerfile.dockerignore import filepath_match
from imgtool.errors import ImgtoolError
from imgtool.frozen import frozen

_CHUNK = 1 << 20


class ContextError(ImgtoolError):
    """A COPY/ADD source that does not exist or is not allowed."""


def has_magic(pattern: str) -> bool:
    """Whether a source uses filepath.Match wildcards (BuildKit's containsWildcards: a `\\`
    escapes the next character, so `a\\*` names a file and is not a pattern)."""
    pos = 0
    while pos < len(pattern):
        if pattern[pos] == "\\":
            pos += 2
            continue
        if pattern[pos] in "*?[":
            return True
        pos += 1
    return False


def clean(source: str) -> str | None:
    """A source path relative to the context root, or None when it climbs out of it."""
    parts: list[str] = []
    for part in source.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


@frozen
class Selected:
    """One matched source: its path relative to the context (or source root) with symlinks resolved,
    its stat, and the path as matched (a symlinked source keeps its own name at the destination)."""

    rel: str
    st: os.stat_result
    named: str = ""

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


class Tree:
    """A directory tree files are selected from: the context, or another stage's root (unfiltered)."""

    def __init__(self, root: Path, ignore: PatternMatcher | None = None, confine_links: bool = True,
                 hashes: "HashCache | None" = None):
        self.root = root
        self.ignore = ignore
        self.confine_links = confine_links
        self.hashes = hashes

    def ignored(self, rel: str) -> bool:
        """True if .dockerignore hides `rel`."""
        return bool(self.ignore is not None and rel and self.ignore.matches_or_parent_matches(rel))

    def sent(self, rel: str) -> bool:
        """True if the context BuildKit sends holds `rel`: it is not ignored, or it is an ignored
        directory that a `!` pattern re-includes something in (`sub/deeper` then `!sub/deeper/d`
        sends sub/deeper with d alone in it, which COPY and bind mounts then find)."""
        if not self.ignored(rel):
            return True
        if self.ignore is None or not self.ignore.has_exclusions:
            return False
        try:
            if not stat.S_ISDIR(os.lstat(self.root / rel).st_mode):
                return False
        except FileNotFoundError:
            return False
        return next(iter(self.walk(rel)), None) is not None

    def _resolve(self, rel: str, what: str) -> str:
        """Follow symlinks in `rel` within the tree; a link leaving it is an error (context only)."""
        parts = [p for p in rel.split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = "/".join(done + [part])
            path = self.root / candidate
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                raise ContextError(f"{what}: not found") from None
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > 40:
                    raise ContextError(f"{what}: too many levels of symbolic links")
                target = os.readlink(path)
                joined = target if target.startswith("/") else "/".join(done) + "/" + target
                if target.startswith("/") and self.confine_links:
                    raise ContextError(f"{what}: symlink {candidate} -> {target} points outside the build context")
                resolved = clean(joined)
                if resolved is None:
                    if self.confine_links:
                        raise ContextError(f"{what}: symlink {candidate} -> {target} points outside the build context")
                    resolved = ""
                parts = [p for p in resolved.split("/") if p] + parts
                done = []
                continue
            done.append(part)
        return "/".join(done)

    def select(self, source: str, what: str) -> list[Selected]:
        """The paths a COPY source means: one path (symlinks followed in-tree) or every wildcard match."""
        rel = clean(source)
        if rel is None:
            raise ContextError(f"{what}: forbidden path outside the build context: {source}")
        if not has_magic(rel):
            resolved = self._resolve(rel, what) if rel else ""
            if not self.sent(resolved) or (rel and not self.sent(rel)):
                raise ContextError(f"{what}: not found (excluded by .dockerignore)")
            return [Selected(resolved, os.stat(self.root / resolved) if resolved else os.stat(self.root), rel)]
        try:
            matches = [Selected(r, st, named) for r, st, named in self._glob(rel.split("/"), "", what)]
        except DockerfileError as exc:
            raise ContextError(f"{what}: {exc}") from None
        return sorted(matches, key=lambda s: s.rel)

    def _glob(self, parts: list[str], prefix: str, what: str) -> Iterator[tuple[str, os.stat_result, str]]:
        """Wildcard matches of `parts` below `prefix`; `what` (the Dockerfile line and instruction)
        starts any error, so a match that is a dangling or escaping link names the line."""
        head, rest = parts[0], parts[1:]
        base = self.root / prefix if prefix else self.root
        if has_magic(head):
            try:
                names = sorted(os.listdir(base))
            except (NotADirectoryError, FileNotFoundError):
                return
            names = [n for n in names if filepath_match(head, n)]
        else:
            names = [head]
        for name in names:
            rel = f"{prefix}/{name}" if prefix else name
            if not self.sent(rel):
                continue
            try:
                st = os.lstat(self.root / rel)
            except FileNotFoundError:
                continue
            named = rel
            if stat.S_ISLNK(st.st_mode):
                rel = self._resolve(rel, f"{what}: {rel}")
                st = os.stat(self.root / rel)
            if rest:
                if stat.S_ISDIR(st.st_mode):
                    yield from self._glob(rest, rel, what)
            else:
                yield rel, st, named

    def walk(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        """Every path below directory `rel` (relative to `rel`), not ignored, parents before children.

        An ignored directory is still entered when `!` patterns exist (`docs` then `!docs/README.md`):
        it is listed, before its first included descendant, only if it has one, as BuildKit sends it.
        """
        start = f"{self.root}/{rel}" if rel else str(self.root)
        base = rel + "/" if rel else ""
        enter_ignored = self.ignore is not None and self.ignore.has_exclusions
        # each frame: (prefix, directory, the ignored ancestors not listed yet, innermost last)
        stack: list[tuple[str, str, _Held | None]] = [("", start, None)]
        while stack:
            prefix, directory, held = stack.pop()
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda e: e.name)
            for item in items:
                member = prefix + item.name
                st = item.stat(follow_symlinks=False)
                if self.ignore is not None and self.ignored(base + member):
                    if enter_ignored and stat.S_ISDIR(st.st_mode):
                        stack.append((member + "/", item.path, _Held(member, st, held)))
                    continue
                if held is not None:
                    yield from held.release()
                yield member, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append((member + "/", item.path, None))

    def hidden(self, rel: str) -> tuple[str, ...]:
        """The outermost paths below directory `rel` (relative to it) that .dockerignore leaves out
        of what `walk` sends: what a bind mount of the context must not show."""
        if self.ignore is None:
            return ()
        sent = {member for member, _ in self.walk(rel)}
        out: list[str] = []
        start = self.root / rel if rel else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            prefix = os.path.relpath(dirpath, start)
            prefix = "" if prefix == "." else prefix + "/"
            for name in filenames:
                if prefix + name not in sent:
                    out.append(prefix + name)
            for name in list(dirnames):
                if prefix + name not in sent:
                    out.append(prefix + name)
                    dirnames.remove(name)  # hidden with everything in it
        return tuple(out)


@dataclass
class _Held:
    """An ignored directory entered for its `!`-included descendants, listed once one turns up."""

    member: str
    st: os.stat_result
    parent: _Held | None
    listed: bool = False

    def release(self) -> Iterator[tuple[str, os.stat_result]]:
        """This directory and its unlisted ignored ancestors, outermost first (once each)."""
        chain = []
        node: _Held | None = self
        while node is not None and not node.listed:
            chain.append(node)
            node = node.parent
        for node in reversed(chain):
            node.listed = True
            yield node.member, node.st


def excluded(excludes: PatternMatcher | None, member: str, source: str) -> bool:
    """--exclude patterns match paths relative to the copied directory (or to the context)."""
    if excludes is None:
        return False
    return excludes.matches_or_parent_matches(member) or \
        bool(source and excludes.matches_or_parent_matches(posixpath.join(source, member)))


class HashCache:
    """Content digests of context files remembered across builds, keyed by (inode, size, mtime,
    ctime): an unchanged file is not read again, a touched one is re-read (and still hits the
    build cache if its bytes are the same). One JSON file per context directory, replaced by rename."""

    def __init__(self, path: Path):
        self.path = path
        self.changed = False
        try:
            self.entries: dict[str, list] = json.loads(path.read_bytes())
        except (OSError, ValueError):
            self.entries = {}

    def digest(self, root: str, rel: str, st: os.stat_result) -> str:
        """The sha256 of `root/rel`, read only if its stat stamp changed."""
        stamp = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        known = self.entries.get(rel)
        if known is not None and known[:4] == stamp:
            return known[4]
        value = _file_digest(f"{root}/{rel}")
        self.entries[rel] = [*stamp, value]
        self.changed = True
        return value

    def save(self) -> None:
        """Write the table back if anything was hashed (atomically; a concurrent build may win)."""
        if not self.changed:
            return
        from imgtool.atomicfile import write_bytes

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(self.path, json.dumps(self.entries, separators=(",", ":")).encode(), durable=False)


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def _record(h: "hashlib._Hash", root: str, hashes: "HashCache | None", name: str, full: str,
            st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        if st.st_nlink > 1:  # the copy keeps hardlinks within a source: so does the checksum
            first = links.setdefault((st.st_dev, st.st_ino), name)
            if first != name:
                h.update(f"{name}\0{mode:o}\0link\0{first}\0".encode("utf-8", "surrogateescape"))
                return
        digest = hashes.digest(root, full, st) if hashes else _file_digest(f"{root}/{full}")
        h.update(f"{name}\0{mode:o}\0{st.st_size}\0{digest}\0".encode("utf-8", "surrogateescape"))
    elif stat.S_ISLNK(mode):
        h.update(f"{name}\0{mode:o}\0{os.readlink(f'{root}/{full}')}\0".encode("utf-8", "surrogateescape"))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        h.update(f"{name}\0{mode:o}\0{st.st_rdev}\0".encode("utf-8", "surrogateescape"))
    else:
        h.update(f"{name}\0{mode:o}\0".encode("utf-8", "surrogateescape"))


def checksum_sources(tree: Tree, sources: list, owners: bool = False) -> str:
    """Content checksum of selected sources (`files.Source`: rel, st, members), mtime-blind,
    hardlinks within a source and device numbers included (the copy keeps them). Owner-blind for
    the context (COPY makes its files root's or --chown's); with `owners`, for COPY --from, which
    keeps the source stage's owners, uid and gid count too (as in BuildKit's contenthash)."""
    h = hashlib.sha256()
    root, hashes = str(tree.root), tree.hashes
    for src in sources:
        links: dict[tuple[int, int], str] = {}
        entries = [(src.rel or ".", src.rel or ".", src.st)]
        prefix = src.rel + "/" if src.rel else ""
        entries += [(member, prefix + member, st) for member, st in src.members]
        for name, full, st in entries:
            if owners:
                h.update(f"{st.st_uid}:{st.st_gid}\0".encode())
            _record(h, root, hashes, name, full, st, links)
        h.update(b"\1")
    return h.hexdigest()


def checksum(tree: Tree, selected: list[Selected]) -> str:
    """Content checksum of selected paths (directories recursively)."""
    from .files import Source

    return checksum_sources(tree, [Source(s.rel, s.st, tuple(tree.walk(s.rel)) if s.is_dir else ()) for s in selected])
