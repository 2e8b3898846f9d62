"""COPY, ADD and WORKDIR: file steps written through an overlay of the stage, like RUN's diff.

The key is known before any file is written: the stage's ChainID (left out for `--link`, whose
layer does not depend on what is below), the destination and flags, and the content checksum of
the sources (context files, or the ChainID of the `--from` stage or image). On a miss the files are
written by a forked child chrooted into an overlay of the stage (builder/files.py), and the upper
dir becomes both the layer and the next snapshot. Every mtime in these layers is fixed
(SOURCE_DATE_EPOCH, else 0), so the same sources give the same layer digest from any checkout.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from pathlib import Path

from imgtool.dockerfile import PatternMatcher
from imgtool.dockerfile import instructions as ins
from imgtool.dockerfile.dockerignore import go_clean
from imgtool.errors import ImgtoolError

from . import cache, chmod, files, fromstage
from .context import ContextError, Tree, checksum_sources, excluded, has_magic
from .session import BuildError, Session, State

_FAKE_FILE = os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, 0, 0, 0, 0))
_URL_FILE = os.stat_result((stat.S_IFREG | 0o600, 0, 0, 1, 0, 0, 0, 0, 0, 0))


def destination(dest: str, workdir: str | None) -> str:
    """COPY's destination made absolute against WORKDIR; a trailing `/` (directory) is kept."""
    if dest in ("", "."):
        dest = "./"
    joined = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    out = posixpath.normpath(joined)
    if out.startswith("//"):
        out = out[1:]
    return out + "/" if (dest.endswith("/") or dest.endswith("/.") or dest == "./") and out != "/" else out


def is_url(source: str) -> bool:
    """ADD's remote sources."""
    return source.startswith(("http://", "https://"))


def history_text(instr: ins.Copy | ins.Add) -> str:
    """BuildKit's commit message: `COPY [--parents] [--chown=..] [--chmod=..] src... dest # buildkit`."""
    words = [instr.NAME]
    if isinstance(instr, ins.Copy) and instr.parents:
        words.append("--parents")
    if instr.chown:
        words.append(f"--chown={instr.chown}")
    if instr.chmod:
        words.append(f"--chmod={instr.chmod}")
    words += list(instr.sources) + [f"<<{c.path}" for c in instr.contents] + [instr.dest]
    return " ".join(words) + " # buildkit"


def _download(url: str, checksum: str | None, where: str) -> tuple[str, bytes]:
    """ADD <url>: the file name (last path segment) and its bytes, verified against --checksum."""
    import urllib.parse
    import urllib.request

    try:
        name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s) only, checked
            data = response.read()
    except (OSError, ValueError) as exc:
        raise BuildError(f"{where}: ADD {url}: {getattr(exc, 'reason', exc)}") from None
    if checksum:
        algorithm, _, expected = checksum.partition(":")
        if algorithm not in ("sha256", "sha384", "sha512") or not expected:
            raise BuildError(f"{where}: invalid checksum {checksum!r} (expected sha256:<hex>)")
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected:
            raise BuildError(f"{where}: ADD {url}: checksum mismatch: expected {checksum}, got {algorithm}:{actual}")
    return name, data


class CopyStep:
    """One COPY or ADD of one stage; `resolve(name, line)` gives the State of a `--from` stage or image."""

    def __init__(self, session: Session, state: State, instr: ins.Copy | ins.Add, resolve, filename: str):
        self.session, self.state, self.instr, self.resolve, self.filename = session, state, instr, resolve, filename

    def where(self) -> str:
        return f"{self.filename}:{self.instr.line}"

    def _context_sources(self, tree: Tree, excludes: PatternMatcher | None) -> list[files.Source]:
        out = []
        extract = isinstance(self.instr, ins.Add) and self.instr.unpack is not False
        for pattern in self.instr.sources:
            if is_url(pattern):
                continue
            what = f"{self.where()}: {self.instr.NAME} {pattern}"
            try:
                selected = tree.select(pattern, what)
            except ContextError as exc:
                raise BuildError(str(exc)) from None
            for sel in selected:
                if excludes is not None and sel.rel and excludes.matches_or_parent_matches(sel.rel):
                    continue
                members: tuple = ()
                if sel.is_dir:
                    members = tuple((m, st) for m, st in tree.walk(sel.rel)
                                    if not excluded(excludes, m, sel.rel))
                out.append(files.Source(sel.rel, sel.st, members, name=posixpath.basename(sel.named),
                                        extract=extract and not sel.is_dir, pivot=files.pivot(pattern)))
            if not selected and not (pattern and has_magic(pattern)):
                # a wildcard may match nothing (BuildKit's AllowEmptyWildcard); a plain name must exist
                raise BuildError(f"{what}: no source files were specified" if not pattern else f"{what}: not found")
        return out

    def execute(self, vertex) -> State:
        session, state, instr = self.session, self.state, self.instr
        dest = destination(instr.dest, state.image.config.working_dir)
        if instr.chmod:
            try:
                chmod.parse_chmod(instr.chmod)
            except ImgtoolError as exc:
                raise BuildError(f"{self.where()}: {exc}") from None
        excludes = PatternMatcher(instr.excludes) if instr.excludes else None
        from_state: State | None = None
        sources: list[files.Source] = []
        identity: list = []
        parents = isinstance(instr, ins.Copy) and instr.parents
        if isinstance(instr, ins.Copy) and instr.from_:
            from_state = self.resolve(instr.from_, instr.line)
            identity = ["from-content", self._from_checksum(from_state, excludes), list(instr.sources)]
        else:
            if any(not is_url(s) for s in instr.sources):
                if isinstance(instr, ins.Add) and instr.checksum:
                    # BuildKit's dispatchCopy: a checksum pins a download, never a context file
                    raise BuildError(f"{self.where()}: checksum can't be specified for non-HTTP(S) sources")
                if session.tree is None:
                    raise BuildError(f"{self.where()}: {instr.NAME} needs a build context (none was given)")
                sources = self._context_sources(session.tree, excludes)
                identity = ["context", checksum_sources(session.tree, sources)]
            for url in (s for s in instr.sources if is_url(s)):
                if not isinstance(instr, ins.Add):
                    raise BuildError(f"{self.where()}: source can't be a URL for COPY")
                name, data = _download(url, instr.checksum, self.where())
                sources.append(files.Source("", _URL_FILE, data=data, name=name))
                identity.append(["url", url, hashlib.sha256(data).hexdigest()])
        for content in instr.contents:
            sources.append(files.Source("", _FAKE_FILE, data=content.data.encode("utf-8", "surrogateescape"),
                                        name=content.path))
            identity.append(["heredoc", content.path, cache.key(content.data)])
        by_name = instr.chown is not None and not instr.chown.replace(":", "").isdigit()
        base = "" if instr.link and not by_name else state.chain
        k = cache.key(instr.NAME, base, dest, instr.chown, instr.chmod, parents, list(instr.excludes), identity,
                      session.options.compression, session.file_mtime())
        plan = files.CopyPlan(sources, dest, instr.NAME, instr.chown, instr.chmod, parents,
                              keep_owner=from_state is not None and instr.chown is None,
                              from_context=from_state is None)
        src_root = session.tree.root if session.tree is not None else Path("/")

        def produce():  # only on a miss: a hit never unpacks or mounts anything
            from_lowers = session.lowers(from_state) if from_state is not None else None
            return self._write(plan, src_root, from_lowers, excludes)

        return session.layer_step(state, vertex, k, history_text(instr), produce)

    def _from_what(self) -> str:
        return f"{self.where()}: {self.instr.NAME} --from={self.instr.from_}"

    def _from_checksum(self, from_state: State, excludes: PatternMatcher | None) -> str:
        """What COPY --from selects, by content (fromstage.py): remembered per ChainID and selection."""
        session, instr = self.session, self.instr
        memo = cache.key("from-content-owners", from_state.chain, list(instr.sources), list(instr.excludes))
        return session.cache.remembered(memo, lambda: fromstage.checksum(
            session.lowers(from_state), instr.sources, excludes, self._from_what(), session.store.tmp_dir))

    def _write(self, plan: files.CopyPlan, src_root: Path, from_lowers, excludes) -> object:
        """Copy in a chrooted child: over the stage, or with --link onto scratch, as BuildKit's
        `Merge(stage, Scratch().File(copy))`: the layer holds only the copy and the directories of
        its destination (0755, the --chown owner), so it never follows a symlink of the stage
        (`/link/` becomes a directory) and its directories replace the stage's metadata."""
        session, state = self.session, self.state
        lowers = session.lowers(state)
        instr = self.instr

        def job(merged: Path) -> None:
            root = src_root
            if instr.link and plan.chown and not plan.chown.replace(":", "").isdigit():
                (merged.parent / "stage").mkdir()  # names resolve in the stage's passwd and group
                stage = fromstage.mount(lowers, merged.parent / "stage")
                plan.chown = "%d:%d" % files.resolve_owner(plan.chown, str(stage))
            if from_lowers is not None:
                root = fromstage.mount(from_lowers, merged.parent)
                plan.sources = fromstage.select(Tree(root, None, confine_links=False), instr.sources, excludes,
                                                self._from_what())
            src_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            os.chroot(merged)
            os.chdir("/")
            files.Copier(src_fd, plan).run()

        return run_file_step(session, state, [] if instr.link else lowers, job, self.where())


def run_file_step(session: Session, state: State, lowers: list[Path], job, where: str):
    """Run `job(merged)` in a private namespace over the stage + a fresh upper; commit the result."""
    from imgtool.runtime import step

    files.load_before_chroot()
    upper, work, release = step.new_upper(session.store)
    try:
        try:
            step.in_overlay(lowers, upper, work, job)
        except ImgtoolError as exc:
            message = str(exc)
            raise BuildError(message if message.startswith(where) else f"{where}: {message}") from None
        return session.commit(state, upper, lowers, session.created(state, runs=False), normalise_mtime=True)
    finally:
        release()


def workdir_step(session: Session, state: State, path: str, vertex, filename: str, line: int) -> State:
    """WORKDIR <path>: mkdir -p owned by USER (a layer only if something was created)."""
    user = state.image.config.user
    k = cache.key("WORKDIR", state.chain, path, user, session.options.compression, session.file_mtime())

    def produce():
        lowers = session.lowers(state)

        def job(merged: Path) -> None:
            os.chroot(merged)
            os.chdir("/")
            files.make_workdir(go_clean(path), user)  # `/a/../b` makes /b only, as BuildKit's mkdir

        return run_file_step(session, state, lowers, job, f"{filename}:{line}")

    return session.layer_step(state, vertex, k, f"WORKDIR {path}", produce)

