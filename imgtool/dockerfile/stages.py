"""Stages, build arguments and variable scopes: what the builder needs to dispatch a Dockerfile.

* Global ARGs (before the first FROM) are evaluated in order with `--build-arg` overrides and
  the automatic platform ARGs; they are visible in FROM lines only, unless a stage pulls one in
  with a bare `ARG NAME`.
* `StageScope` tracks one stage while the builder dispatches it: it expands each instruction
  against the environment from *before* the instruction (ENV overrides ARG), then applies ENV
  and ARG effects.
* `reachable_stages` finds the stages a target needs (FROM <stage>, COPY --from,
  RUN --mount from=), so unreachable stages are skipped like BuildKit does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from imgtool.frozen import frozen

from . import instructions as ins
from .errors import DockerfileError
from .goquote import quote
from .shell import Lex

PROXY_BASES = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
PROXY_ARGS = tuple(name for base in PROXY_BASES for name in (base, base.lower()))


@frozen
class Stage:
    """One `FROM` and the instructions up to the next; `name` is lower-case or ''."""

    index: int
    from_: ins.From
    instructions: tuple[ins.Instruction, ...]

    @property
    def name(self) -> str:
        """The stage name as referenced by `--target`, `FROM` and `--from` ('' if unnamed)."""
        return self.from_.name

    @property
    def onbuild_triggers(self) -> tuple[str, ...]:
        """ONBUILD expressions to record in the image config, in order."""
        return tuple(i.expression for i in self.instructions if isinstance(i, ins.Onbuild))


def platform_args(target: str, build: str | None = None) -> dict[str, str]:
    """The automatic platform ARGs for `os/arch[/variant]` target and build platforms."""
    out: dict[str, str] = {}
    for prefix, platform in (("TARGET", target), ("BUILD", build or target)):
        os_, _, rest = platform.partition("/")
        arch, _, variant = rest.partition("/")
        out.update({
            f"{prefix}PLATFORM": platform, f"{prefix}OS": os_, f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant,
        })  # fmt: skip
    return out


def global_args(
    meta_args: Iterable[ins.Arg],
    build_args: Mapping[str, str] | None = None,
    automatic: Mapping[str, str] | None = None,
    escape: str = "\\",
) -> dict[str, str]:
    """Evaluate the ARGs before the first FROM: defaults expanded in order, build args win.

    Why the order matters: `ARG A=1` then `ARG B=$A` sees A; a build arg for A changes B.
    A declared ARG with neither default nor build arg is left out (unset, not empty).
    """
    build_args = build_args or {}
    values: dict[str, str] = dict(automatic or {})
    lex = Lex(escape)
    for arg in meta_args:
        for definition in arg.args:
            if definition.key in build_args:
                values[definition.key] = build_args[definition.key]
            elif definition.value is not None:
                try:
                    values[definition.key] = lex.process_word(definition.value, values)
                except DockerfileError as exc:
                    raise exc.located(arg.line) from None
    return values


def resolve_from(stage: Stage, globals_: Mapping[str, str], escape: str = "\\") -> tuple[str, str | None]:
    """The base name and platform of a stage, expanded with global ARGs only."""
    lex = Lex(escape)
    try:
        base = lex.process_word(stage.from_.base, globals_)
        platform = None if stage.from_.platform is None else lex.process_word(stage.from_.platform, globals_)
    except DockerfileError as exc:
        raise exc.located(stage.from_.line) from None
    if not base:
        raise DockerfileError(f"base name ({stage.from_.base}) should not be blank", stage.from_.line)
    return base, platform


@frozen
class StageVars:
    """What a stage built `FROM` another stage inherits besides the image config: the variables of
    the parent's LLB state (its ENV and ARG values, in the order they were written) and the ARGs
    it declared, which stay declared (BuildKit's dispatchState.init copies the base stage's state
    and buildArgs; docker 20.10's BuildKit does the same, tests/builder/differential edge-arg-scope)."""

    state: tuple[tuple[str, str], ...] = ()
    args: tuple[tuple[str, str | None], ...] = ()


@dataclass
class StageScope:
    """ENV and ARG state of one stage during dispatch.

    `base_env` is the base image's (or parent stage's) environment. Call `dispatch(instr)` for
    each instruction in order: it returns the instruction expanded against the state before it,
    and records ENV values and ARG declarations.

    `env` is what the image config keeps (ENV only); `state` is the environment BuildKit's LLB
    state carries, which both `$VAR` expansion and RUN steps see: ENV and ARG-with-a-value write
    it in order, the later one winning (`ENV A=e` then `ARG A=a` gives RUN and WORKDIR `a`, while
    the config keeps `A=e`), and an ARG with no value from anywhere leaves it as it was (a
    redeclared `ARG A` keeps the earlier `ARG A=1`). Checked against docker 20.10's BuildKit in
    tests/builder/differential (edge-env).

    `inherited` is the parent stage's `vars()` for `FROM <stage>`: its state comes first, then the
    config's Env is written over it (so a parent's `ENV A=e` then `ARG A=a` gives the child `e`).
    """

    globals_: Mapping[str, str]
    build_args: Mapping[str, str]
    base_env: Mapping[str, str] = field(default_factory=dict)
    escape: str = "\\"
    inherited: StageVars = StageVars()
    env: dict[str, str] = field(init=False)
    state: dict[str, str] = field(init=False)
    args: dict[str, str | None] = field(init=False)

    def __post_init__(self) -> None:
        self.env = dict(self.base_env)
        self.state = {**dict(self.inherited.state), **self.base_env}
        self.args = dict(self.inherited.args)

    def vars(self) -> StageVars:
        """What a stage `FROM` this one inherits (see StageVars)."""
        return StageVars(tuple(self.state.items()), tuple(self.args.items()))

    def expansion_env(self) -> dict[str, str]:
        """Variables visible to `$VAR`: ENV and declared ARGs with a value, the latest write winning."""
        return dict(self.state)

    def expander(self) -> ins.Expander:
        """A fresh expander over the current state (it records unmatched names for checks)."""
        return ins.Expander(self.expansion_env(), self.escape)

    def run_env(self) -> dict[str, str]:
        """Environment of a RUN step that its cache key covers: declared ARGs and ENV."""
        return self.expansion_env()

    def proxy_env(self) -> dict[str, str]:
        """BuildKit's ProxyEnv: a proxy build arg given on the command line reaches every RUN,
        declared or not, in both spellings (`--build-arg https_proxy=X` sets HTTPS_PROXY and
        https_proxy), and stays out of the cache key and the `|N` history prefix, so switching
        proxies never invalidates a cache (dockerfile2llb's proxyEnvFromBuildArgs, the exec op's
        proxyEnvList). When both spellings are given, the later one wins."""
        values: dict[str, str] = {}
        for key, value in self.build_args.items():
            if key.upper() in PROXY_BASES and value:
                values[key.upper()] = values[key.lower()] = value
        return values

    def declared_args(self) -> dict[str, str]:
        """Every declared ARG, for the `|N K=V` prefix of RUN history and cache keys: one without a
        value is `K=`, otherwise the value the step sees (BuildKit's runCommandString)."""
        return {k: self.state.get(k, "") for k in self.args}

    def dispatch(self, instruction: ins.Instruction, expander: ins.Expander | None = None) -> ins.Instruction:
        """Expand `instruction` against the current state, then apply its ENV/ARG effects."""
        expander = expander or self.expander()
        try:
            expanded = instruction.expand(expander)
            if isinstance(instruction, ins.Arg):
                self._declare(instruction, expander)
        except DockerfileError as exc:
            raise exc.located(instruction.line, end_line=instruction.end_line) from None
        if isinstance(expanded, ins.Env):
            self.env.update((p.key, p.value) for p in expanded.pairs)
            self.state.update((p.key, p.value) for p in expanded.pairs)
        return expanded

    def _declare(self, arg: ins.Arg, expander: ins.Expander) -> None:
        for definition in arg.args:
            key = definition.key
            value: str | None
            if key in self.build_args:
                value = self.build_args[key]
            elif definition.value is not None:
                value = ins.Expander(self.expansion_env(), self.escape, expander.unmatched).word(definition.value)
            else:
                value = self.globals_.get(key)
            self.args[key] = value
            if value is not None:
                self.state[key] = value


def find_stage(stages: tuple[Stage, ...], ref: str) -> Stage | None:
    """The stage called `ref` (case-insensitive), or None: then `ref` is an image or context."""
    lowered = ref.lower()
    for stage in stages:
        if stage.name and stage.name == lowered:
            return stage
    return None


def stage_dependencies(stage: Stage, stages: tuple[Stage, ...], globals_: Mapping[str, str], escape: str = "\\") -> list[Stage]:
    """Stages this one uses: its FROM base, COPY --from, RUN --mount from= (by name or index).

    A stage defined after this one is an error, with current BuildKit's message (its dispatch
    order check, moby/buildkit 0615bb4): BuildKit 0.8 copied from that stage's unfinished state,
    a missing file or, for `/`, silently almost nothing (tests/builder/differential
    fail-copy-from-later-stage).
    """
    lex = Lex(escape)
    label = stage.name or str(stage.index)
    # (reference, line, index allowed, the error's words around the name when the stage comes later)
    refs: list[tuple[str, int, bool, tuple[str, str]]] = [
        (resolve_from(stage, globals_, escape)[0], stage.from_.line, False, ("", ""))]
    for instruction in stage.instructions:
        if isinstance(instruction, ins.Copy) and instruction.from_:
            refs.append((instruction.from_, instruction.line, True,
                         ("cannot copy from stage ", ", it needs to be defined before current stage " + quote(label))))
        elif isinstance(instruction, ins.Run):
            refs += [(m.from_, instruction.line, True, ("cannot mount from stage ", " to " + quote(m.target or "")
                      + ", stage needs to be defined before current command")) for m in instruction.mounts if m.from_]
    deps: list[Stage] = []
    for ref, line, index_ok, later in refs:
        try:
            name = lex.process_word(ref, globals_)
        except DockerfileError as exc:
            raise exc.located(line) from None
        found = find_stage(stages[: stage.index] if not index_ok else stages, name)
        if found is None and index_ok and name.isdigit():
            number = int(name)
            if number >= len(stages):
                raise DockerfileError(f"invalid stage index {number}: there are only {len(stages)} stages", line)
            found = stages[number]
        if found is not None:
            if found.index == stage.index:
                raise DockerfileError(f"circular dependency detected on stage: {name}", line)
            if found.index > stage.index:
                raise DockerfileError(later[0] + quote(name) + later[1], line)
            deps.append(found)
    return deps


def reachable_stages(
    stages: tuple[Stage, ...], target: Stage, globals_: Mapping[str, str], escape: str = "\\"
) -> tuple[Stage, ...]:
    """The stages `target` needs, itself included, in file order; unreachable ones are skipped."""
    state: dict[int, bool] = {target.index: False}  # False while visiting, True when done
    stack = [(target, iter(stage_dependencies(target, stages, globals_, escape)))]
    while stack:  # iterative: a chain of thousands of stages must not exhaust Python's stack
        stage, deps = stack[-1]
        dep = next(deps, None)
        if dep is None:
            stack.pop()
            state[stage.index] = True
        elif state.get(dep.index) is False:
            raise DockerfileError(f"circular dependency detected on stage: {dep.name or dep.index}", stage.from_.line)
        elif dep.index not in state:
            state[dep.index] = False
            stack.append((dep, iter(stage_dependencies(dep, stages, globals_, escape))))
    return tuple(stages[i] for i in sorted(state))
