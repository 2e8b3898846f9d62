"""RUN: the command line BuildKit would run, its typed mounts, its cache key, and its execution.

Shell form goes behind SHELL (`/bin/sh -c`); a lone heredoc runs its body (a `#!` body runs as a
script file mounted under /dev/pipes/); other heredoc forms are handed to the shell whole. Every
declared ARG is part of the step (`|N K=V` in history and key, as BuildKit's runCommandString).
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from imgtool.dockerfile import instructions as ins
from imgtool.dockerfile.mounts import Mount as MountSpec
from imgtool.errors import ImgtoolError
from imgtool.filelock import flock
from imgtool.oci.canonical import go_string
from imgtool.runtime.resources import parse_size

from . import cache, fromstage
from .context import ContextError
from .imageconfig import DEFAULT_SHELL
from .session import BuildError, Session, State

_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")


def command_line(run: ins.Run, state: State) -> tuple[list[str], list[tuple[str, bytes]]]:
    """(argv, script files to mount under /dev/pipes) for a RUN, as BuildKit's dispatchRun."""
    args = list(run.command)
    scripts: list[tuple[str, bytes]] = []
    if run.files:
        first = run.files[0]
        match = _HEREDOC.match(args[0]) if len(args) == 1 else None
        # BuildKit's ParseHeredoc: only `<<WORD` alone is a script; `<<EOF sh -s -- x` is a command
        # whose stdin is the heredoc, so the whole text goes to the shell
        if match and len(match.group(3).split()) == 1:
            body = first.body()
            if body.startswith("#!"):
                scripts.append((first.name, body.encode()))
                return ["/dev/pipes/" + first.name], scripts
            args = [body]
        else:
            args = [args[0] + "".join("\n" + f.body() + f.name for f in run.files)]
    if run.shell_form:
        args = [*(state.image.config.shell or DEFAULT_SHELL), " ".join(args)]
    return args, scripts


@contextlib.contextmanager
def _locked(paths: list[Path]) -> Iterator[None]:
    """Exclusive flocks on the lock files of `sharing=locked` cache mounts (sorted: no deadlock)."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            stack.enter_context(flock(path, mode=0o600))
        yield


def history_text(args: list[str], declared: dict[str, str]) -> str:
    """`RUN |N K=V ... argv # buildkit`."""
    prefix = [f"|{len(declared)}", *(f"{k}={v}" for k, v in declared.items())] if declared else []
    return "RUN " + " ".join([*prefix, *args]) + " # buildkit"



class RunStep:
    """One RUN of one stage."""

    def __init__(self, session: Session, state: State, run: ins.Run, scope_env: dict[str, str],
                 declared: dict[str, str], stage_lowers, filename: str, proxy_env: dict[str, str]):
        self.session = session
        self.state = state
        self.run = run
        self.env = scope_env
        self.proxy_env = proxy_env  # in the step, never in a key (BuildKit's ProxyEnv)
        self.secret_env: dict[str, str] = {}  # `--mount=type=secret,env=X`: in the step, never in a key
        self.locks: list[Path] = []  # cache mounts with sharing=locked: one step at a time per id
        self.declared = declared
        self.stage_lowers = stage_lowers  # name -> (State) resolver for from= mounts
        self.filename = filename

    def where(self) -> str:
        return f"{self.filename}:{self.run.line}"

    def mounts(self, args_scripts: list[tuple[str, bytes]]) -> tuple[list, list]:
        """(typed runtime mounts, key parts) for the step's --mount flags and heredoc scripts."""
        if not args_scripts and not self.run.mounts:
            return [], []  # nothing to type: a cached RUN never loads the runtime
        from imgtool.runtime import step

        typed: list = []
        key_parts: list = []
        for name, data in args_scripts:
            typed.append(step.Secret(data=data, target="/dev/pipes/" + name, mode=0o755, executable=True))
            key_parts.append(["script", name, cache.key(data.decode("utf-8", "surrogateescape"))])
        for m in self.run.mounts:
            made, part = self._mount(m)
            if made is not None:
                typed.append(made)
            key_parts.append(part)
        return typed, key_parts

    def _target(self, m: MountSpec) -> str:
        """Where `m` appears: a relative target is under the WORKDIR, as in BuildKit's
        dispatchRunMounts (`path.Join("/", dir, target)`), not under /."""
        target = m.target or ""
        if target and not target.startswith("/"):
            target = posixpath.join("/", self.state.image.config.working_dir or "/", target)
            target = posixpath.normpath(target).replace("//", "/")
        return target

    def _mount(self, m: MountSpec):  # noqa: ANN202 - (typed mount | None, key part)
        from imgtool.runtime import step

        session = self.session
        target = self._target(m)
        if m.type == "tmpfs":
            size = m.get("size")
            try:
                limit = parse_size(size, "--mount size") if size else None
            except ImgtoolError as exc:
                raise BuildError(f"{self.where()}: {exc}") from None
            return step.Tmpfs(target, limit), ["tmpfs", target, limit]
        if m.type == "secret":
            secret_id = m.get("id") or (target.rsplit("/", 1)[-1] if target else "")
            data = session.options.secrets.get(secret_id)
            required = m.get("required") in ("", "true")
            if data is None:
                if required:
                    raise BuildError(f"{self.where()}: secret {secret_id} not found (pass --secret id={secret_id},src=FILE)")
                return None, ["secret", secret_id, "absent"]
            if m.get("env"):
                self.secret_env[m.get("env")] = data.decode("utf-8", "replace")
                if not m.get("target"):
                    return None, ["secret-env", secret_id, m.get("env")]
            mode = int(m.get("mode") or "0400", 8)
            uid, gid = int(m.get("uid") or 0), int(m.get("gid") or 0)
            return step.Secret(data, target or f"/run/secrets/{secret_id}", uid, gid, mode), \
                ["secret", secret_id, target, mode, uid, gid]
        if m.type == "cache":
            mount_id = m.get("id") or target
            # uid/gid/mode set up the cache directory when it is first made, as BuildKit does;
            # with from= it starts as that stage's `source` instead, one cache per id and stage
            # content (BuildKit keys it `id:ref`)
            owner = (int(m.get("uid") or 0), int(m.get("gid") or 0), int(m.get("mode") or "0755", 8))
            seed = None
            if m.from_:
                other = self.stage_lowers(m.from_, self.run.line)
                source = m.get("source") or "/"
                mount_id = f"{mount_id}:{other.chain}:{source}"
                seed = functools.partial(fromstage.copy_dir, session.lowers(other), source,
                                         what=f"{self.where()}: --mount from={m.from_}",
                                         scratch_dir=session.store.tmp_dir)
            path = session.cache.mount_dir(mount_id, *owner, seed=seed)
            if m.get("sharing") == "locked":
                self.locks.append(path.with_name(path.name + ".lock"))
            # the seeding stage is an input of the step in BuildKit: its content is part of the key
            return step.Cache(path, target, m.readonly), ["cache", target, m.readonly, *owner, mount_id * bool(seed)]
        if m.type == "bind":
            source = m.get("source") or "/"
            if m.from_:
                other = self.stage_lowers(m.from_, self.run.line)
                lowers = tuple(session.lowers(other))
                return step.Snapshot(lowers, target, source, m.readonly), ["bind", other.chain, source, target, m.readonly]
            tree = session.tree
            if tree is None:
                raise BuildError(f"{self.where()}: RUN --mount=type=bind needs a build context")
            from .context import checksum

            try:
                selected = tree.select(source, f"{self.where()}: --mount source {source}")
            except ContextError as exc:
                raise BuildError(str(exc)) from None
            path = Path(tree.root, selected[0].rel) if selected[0].rel else tree.root
            # BuildKit binds its .dockerignore-filtered copy of the context: the excluded paths are hidden
            hidden = tree.hidden(selected[0].rel) if selected[0].is_dir else ()
            return step.Bind(path, target, m.readonly, hidden), \
                ["bind", checksum(tree, selected), target, m.readonly]
        raise BuildError(f"{self.where()}: RUN --mount=type={m.type} is not supported")

    def execute(self, vertex) -> State:
        """Key, lookup, run on a miss, commit."""
        session, state = self.session, self.state
        args, scripts = command_line(self.run, state)
        if not args:  # `RUN []`: BuildKit's ExecOp refuses to marshal an empty argv
            raise BuildError(f"{self.where()}: arguments are required")
        typed, key_parts = self.mounts(scripts)
        config = state.image.config
        env = [f"{k}={v}" for k, v in self.env.items()]
        network = self.run.network or session.options.network
        if network == "default":
            network = session.options.network
        if self.run.security == "insecure":  # BuildKit refuses it unless the daemon and client allow it
            raise BuildError(f"{self.where()}: granting entitlement security.insecure is not allowed "
                             "(imgtool grants no entitlements)")
        if network not in ("host", "none"):
            raise BuildError(f"{self.where()}: RUN --network={network} is not supported (host or none)")
        user = config.user or "0"
        cwd = config.working_dir or "/"
        k = cache.key("run", state.chain, args, sorted(env), cwd, user, network, key_parts,
                      self.run.security, session.options.compression)
        created_by = history_text(args, self.declared)

        def produce():
            from imgtool.runtime import step

            lowers = session.lowers(state)
            run_env = {**self.proxy_env, **self.env, **self.secret_env}
            run_env = [f"{k}={v}" for k, v in run_env.items()]
            spec = step.Step(args=[go_string(a) for a in args], env=[go_string(e) for e in run_env],
                             cwd=go_string(cwd), user=go_string(user), network=network, mounts=tuple(typed),
                             resources=session.options.resources)
            try:
                with _locked(self.locks):
                    result = step.run_step(session.store, state.image, lowers, spec, vertex.log)
            except step.Interrupted:
                raise
            except ImgtoolError as exc:
                raise BuildError(f"{self.where()}: {self.run.original or 'RUN'}: {exc}") from None
            try:
                if result.status.code != 0:
                    shown = " ".join(args)
                    reason = "killed: out of memory" if result.status.oom_killed else f"exit code: {result.status.code}"
                    raise BuildError(f'{self.where()}: process "{shown}" did not complete successfully: {reason}')
                return session.commit(state, result.upper, lowers, session.created(state, runs=True))
            finally:
                result.release()

        return session.layer_step(state, vertex, k, created_by, produce)

