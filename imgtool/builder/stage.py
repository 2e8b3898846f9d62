"""One stage of a Dockerfile: its base, ONBUILD triggers, then each instruction in order.

Metadata instructions edit the config (builder/imageconfig.py) and add an `empty_layer` history
entry with BuildKit's wording; RUN, COPY, ADD and WORKDIR are file steps (cached layers). Steps are
numbered as BuildKit shows them: `[stage k/n]`, counting FROM and the file steps.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable

from imgtool import dockerfile as df
from imgtool.dockerfile import instructions as ins
from imgtool.dockerfile.goquote import quote
from imgtool.errors import ImgtoolError
from imgtool.oci.config import ContainerConfig, ImageConfig

from . import imageconfig
from .copy import CopyStep, workdir_step
from .run import RunStep
from .session import BuildError, Session, State

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_FILE_STEPS = (ins.Run, ins.Copy, ins.Add, ins.Workdir)


def _go_list(values) -> str:  # noqa: ANN001
    return "[" + " ".join(quote(v) for v in values) + "]"


def _go_duration(ns: int) -> str:
    if ns == 0:
        return "0s"
    seconds, rest = divmod(ns, 1_000_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    frac = f".{rest:09d}".rstrip("0") if rest else ""
    out = f"{seconds}{frac}s"
    if minutes or hours:
        out = f"{minutes}m{out}"
    if hours:
        out = f"{hours}h{out}"
    return out


def metadata_history(instr: ins.Instruction, config: ContainerConfig) -> str | None:
    """BuildKit's `created_by` for a metadata instruction (None: no history entry, as ONBUILD)."""
    match instr:
        case ins.Env(pairs=pairs) | ins.Label(pairs=pairs):
            return instr.NAME + "".join(f" {p.key}={p.value}" for p in pairs)
        case ins.Cmd():
            return f"CMD {_go_list(config.cmd or ())}"
        case ins.Entrypoint():
            return f"ENTRYPOINT {_go_list(config.entrypoint or ())}"
        case ins.Expose(ports=words):  # this instruction's ports, as Go prints a map (sorted keys)
            return "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted({p for w in words for p in imageconfig.ports(w)})) + "]"
        case ins.User(value=value):
            return f"USER {value}"
        case ins.Volume(paths=paths):
            return "VOLUME [" + " ".join(paths) + "]"
        case ins.StopSignal(value=value):
            return f"STOPSIGNAL {value}"
        case ins.Shell(shell=shell):
            return "SHELL [" + " ".join(shell) + "]"
        case ins.Maintainer(maintainer=name):
            return f"MAINTAINER {name}"
        case ins.Healthcheck():
            h = instr
            return (f"HEALTHCHECK &{{{_go_list(h.test)} {quote(_go_duration(h.interval))} {quote(_go_duration(h.timeout))} "
                    f"{quote(_go_duration(h.start_period))} {quote(_go_duration(h.start_interval))} "
                    f"'\\x{h.retries:02x}'}}")
    return None


def empty_image(platform: str) -> ImageConfig:
    """`FROM scratch`: no layers, the default PATH and WorkingDir / (as BuildKit's emptyImage)."""
    os_, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    return ImageConfig(architecture=arch, os=os_, variant=variant or None,
                       config=ContainerConfig(env=(DEFAULT_PATH,), working_dir="/"))


class StageRun:
    """Builds one stage; `resolve(name, line)` returns the State of another stage or an image."""

    def __init__(self, session: Session, d: df.Dockerfile, stage: df.Stage, globals_: dict[str, str],
                 resolve: Callable[[str, int], State], base: Callable[[str, int, str | None], State | None], single: bool):
        self.session, self.d, self.stage, self.globals = session, d, stage, globals_
        self.resolve, self.base = resolve, base
        self.label = "" if single else (stage.name or f"stage-{stage.index}") + " "
        self.index = 0
        self.total = 0

    def vertex(self, text: str):  # noqa: ANN201
        self.index += 1
        width = int(1 + math.log10(self.total))
        return self.session.progress.vertex(f"[{self.label}{self.index:>{width}}/{self.total}] {text}")

    def run(self) -> State:
        """Dispatch every instruction; returns the stage's final image state."""
        session, stage = self.session, self.stage
        base_name, from_platform = df.resolve_from(stage, self.globals, self.d.escape)
        platform = from_platform or session.options.platform  # None: the host's
        state = self.base(base_name, stage.from_.line, platform)
        if state is None:
            from .baseimage import host

            state = State(empty_image(platform or host()))
        triggers = self.triggers(state)
        if triggers:
            state = state.with_config(on_build=None)
        if not any(e.startswith("PATH=") for e in state.image.config.env or ()):
            state = state.with_config(env=(*(state.image.config.env or ()), DEFAULT_PATH))
        instructions = [*triggers, *stage.instructions]
        self.total = 1 + sum(isinstance(i, _FILE_STEPS) for i in instructions)
        from imgtool.dockerfile.stages import find_stage

        shown = base_name if find_stage(self.d.stages[: stage.index], base_name) else self.display(base_name)
        v = self.vertex(f"FROM {shown}")
        v.start()
        v.done()
        scope = df.StageScope(self.globals, session.options.build_args, base_env=state.env(), escape=self.d.escape,
                              inherited=state.vars)
        cmd_set = False
        for instr in instructions:
            prefix = "ONBUILD " if instr in triggers else ""
            try:
                expanded = scope.dispatch(instr)
            except df.DockerfileError as exc:
                raise type(exc)(exc.message, exc.line, self.d.filename, exc.end_line) from None
            if isinstance(expanded, ins.Cmd):
                cmd_set = True
            state = self.step(state, expanded, scope, prefix, cmd_set)
        return dataclasses.replace(state, vars=scope.vars())

    @staticmethod
    def display(name: str) -> str:
        if name.lower() == "scratch":
            return "scratch"
        try:
            from imgtool.oci import reference

            return str(reference.parse(name))
        except ImgtoolError:
            return name

    def triggers(self, state: State) -> list[ins.Instruction]:
        """The base image's ONBUILD triggers as instructions (located at this stage's FROM line)."""
        out = []
        for text in state.image.config.on_build or ():
            try:
                [instr] = df.parse(f"FROM scratch\n{text}\n", self.d.filename).stages[0].instructions
            except (df.DockerfileError, ValueError) as exc:
                raise BuildError(f"{self.d.filename}:{self.stage.from_.line}: ONBUILD trigger {text!r}: {exc}") from None
            out.append(dataclasses.replace(instr, line=self.stage.from_.line, end_line=self.stage.from_.line))
        return out

    def step(self, state: State, instr: ins.Instruction, scope: df.StageScope, prefix: str, cmd_set: bool) -> State:
        session = self.session
        text = prefix + (instr.original or instr.NAME).strip()
        if isinstance(instr, ins.Run):
            v = self.vertex(text)
            step = RunStep(session, state, instr, scope.run_env(), scope.declared_args(), self.resolve,
                           self.d.filename, scope.proxy_env())
            return step.execute(v)
        if isinstance(instr, (ins.Copy, ins.Add)):
            v = self.vertex(text)
            return CopyStep(session, state, instr, self.resolve, self.d.filename).execute(v)
        if isinstance(instr, ins.Workdir):
            state = state.with_config(working_dir=imageconfig.apply(state.image.config, instr).working_dir)
            path = state.image.config.working_dir or "/"
            v = self.vertex(text)
            if path == "/":
                v.start()
                v.done()
                return state.append(_empty(session, state), f"WORKDIR {path}", with_layer=False)
            return workdir_step(session, state, path, v, self.d.filename, instr.line)
        if isinstance(instr, ins.Arg):
            words = [a.key + (f"={scope.args[a.key]}" if scope.args.get(a.key) is not None else "") for a in instr.args]
            return state.append(_empty(session, state), "ARG " + " ".join(words), with_layer=False)
        if isinstance(instr, ins.Maintainer):
            state = dataclasses.replace(state, image=dataclasses.replace(state.image, author=instr.maintainer))
            return state.append(_empty(session, state), f"MAINTAINER {instr.maintainer}", with_layer=False)
        try:
            config = imageconfig.apply(state.image.config, instr)
        except ImgtoolError as exc:
            raise BuildError(f"{self.d.filename}:{instr.line}: {exc}") from None
        if isinstance(instr, ins.Entrypoint) and cmd_set:
            config = dataclasses.replace(config, cmd=state.image.config.cmd)
        if isinstance(instr, ins.Cmd):
            config = dataclasses.replace(config, args_escaped=True)
        if isinstance(instr, ins.StopSignal):
            _check_signal(instr.value, self.d.filename, instr.line)
        state = dataclasses.replace(state, image=dataclasses.replace(state.image, config=config))
        created_by = metadata_history(instr, config)
        if created_by is None:
            return state
        return state.append(_empty(session, state), created_by, with_layer=False)


def _empty(session: Session, state: State):  # noqa: ANN202 - cache.Record
    from .cache import Record

    return Record(None, session.created(state, runs=False))


_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def _check_signal(value: str, filename: str, line: int) -> None:
    """A STOPSIGNAL is checked as BuildKit's signal.ParseSignal does: whatever Go's Atoi reads
    (a sign, digits, int64 range: `-1`, `+5`, `007`) is accepted unless it is 0, kept as written;
    anything else (a number out of that range too) must be a signal name."""
    from imgtool.runtime.signals import parse_signal

    if _GO_ATOI.fullmatch(value):
        number = int(value) if -2**63 <= int(value) < 2**63 else 0  # out of Atoi's range: no name either
    else:
        try:
            number = parse_signal(value)
        except ImgtoolError:
            number = 0
    if number == 0:
        raise BuildError(f"{filename}:{line}: STOPSIGNAL {value}: invalid signal")

