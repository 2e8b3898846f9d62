"""Typed instructions: what each Dockerfile instruction means, before variable expansion.

Every instruction keeps its keyword as written and its source line range. Words stay raw
(quotes, `$VAR`) until the builder calls `expand(expander)` at dispatch with the stage
environment as it was *before* the instruction; `expand` returns a new instruction with the
words BuildKit expands for that instruction (RUN/CMD/ENTRYPOINT bodies are left to the shell,
FROM is expanded by the stage graph with global ARGs only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from imgtool.frozen import frozen

from .errors import DockerfileError
from .mounts import Mount
from .shell import Lex

T = TypeVar("T", bound="Instruction")

# The abstract bases (never instantiated, only subclassed) contribute fields and stay frozen, but
# get no __init__ of their own (every concrete instruction generates one for itself), and the rest
# is frozen's shared methods. Each base also has a docstring, else dataclass computes one from
# inspect.signature. Why it matters: every generated method is compiled from source at import, on
# the start-up of every build (callgrind; docs/benchmarks.md, Build).
_base = frozen(kw_only=True, init=False)


@dataclass
class Expander:
    """Expands words against one environment and remembers the names it could not find.

    The builder makes one per instruction from the stage's ENV and declared ARGs; the
    UndefinedVar check reads `unmatched` afterwards.
    """

    env: Mapping[str, str]
    escape: str = "\\"
    unmatched: set[str] = field(default_factory=set)

    def _run(self, lex: Lex, text: str):  # noqa: ANN202 - internal
        result = lex.process_with_matches(text, self.env)
        self.unmatched |= result.unmatched
        return result

    def word(self, text: str) -> str:
        """One word: quotes removed, variables substituted, spaces kept."""
        return self._run(Lex(self.escape), text).word

    def words(self, text: str) -> list[str]:
        """A word split into fields after substitution (EXPOSE)."""
        return self._run(Lex(self.escape), text).words

    def raw(self, text: str) -> str:
        """Heredoc bodies: substitute variables but leave quotes alone, as BuildKit's ExpandRaw."""
        return self._run(Lex("\\", skip_process_quotes=True), text).word

    def optional(self, text: str | None) -> str | None:
        """`word` for flags that may be absent."""
        return None if text is None else self.word(text)


@_base
class Instruction:
    """Common part: keyword as written, 1-based first and last line, the assembled source line."""

    NAME: ClassVar[str] = ""
    keyword: str
    line: int
    end_line: int
    original: str = ""

    def expand(self: T, expander: Expander) -> T:
        """This instruction with its expandable words expanded (default: nothing to expand)."""
        return self


@frozen
class KeyValue:
    """One ENV or LABEL pair; `legacy` for the `KEY value` form (LegacyKeyValueFormat)."""

    key: str
    value: str
    legacy: bool = False

    def expand(self, expander: Expander) -> KeyValue:
        """Key and value are both expanded, as BuildKit does."""
        return KeyValue(expander.word(self.key), expander.word(self.value), self.legacy)


@frozen
class ArgDef:
    """One ARG name with its optional default (None: declared without a value)."""

    key: str
    value: str | None = None


@frozen
class SourceContent:
    """A heredoc used as a COPY/ADD source: a file named `path` holding `data`."""

    path: str
    data: str
    expand: bool


@frozen(kw_only=True)
class From(Instruction):
    """`FROM [--platform=p] base [AS name]`; `name` is lower-cased ('' if unnamed)."""

    NAME: ClassVar[str] = "FROM"
    base: str
    name: str = ""
    name_as_written: str = ""
    as_keyword: str = ""
    platform: str | None = None


@_base
class _Pairs(Instruction):
    """ENV and LABEL: key/value pairs."""

    pairs: tuple[KeyValue, ...]

    def expand(self: T, expander: Expander) -> T:
        """Expand all keys and values against the same, pre-instruction environment."""
        return dataclasses.replace(self, pairs=tuple(p.expand(expander) for p in self.pairs))  # type: ignore[attr-defined]


@frozen(kw_only=True)
class Env(_Pairs):
    """`ENV k=v ...`: every value sees the environment from before this instruction."""

    NAME: ClassVar[str] = "ENV"


@frozen(kw_only=True)
class Label(_Pairs):
    """`LABEL k=v ...`."""

    NAME: ClassVar[str] = "LABEL"


@frozen(kw_only=True)
class Arg(Instruction):
    """`ARG name[=default] ...`."""

    NAME: ClassVar[str] = "ARG"
    args: tuple[ArgDef, ...]

    def expand(self, expander: Expander) -> Arg:
        """Expand names and defaults (a default may refer to earlier ARGs/ENVs)."""
        return dataclasses.replace(
            self, args=tuple(ArgDef(expander.word(a.key), expander.optional(a.value)) for a in self.args)
        )


@_base
class ShellDependent(Instruction):
    """RUN, CMD, ENTRYPOINT: exec form (`shell_form` False) or one shell string plus heredoc files."""

    command: tuple[str, ...]
    shell_form: bool
    files: tuple = ()  # tuple[Heredoc, ...]: heredoc bodies the shell command refers to


@frozen(kw_only=True)
class Run(ShellDependent):
    """`RUN [--mount=...] [--network=...] [--security=...] command`."""

    NAME: ClassVar[str] = "RUN"
    mounts: tuple[Mount, ...] = ()
    network: str | None = None
    security: str | None = None

    def expand(self, expander: Expander) -> Run:
        """Only the `--mount` options are expanded; the command is the shell's business."""
        return dataclasses.replace(self, mounts=tuple(m.expand(expander.word) for m in self.mounts))


@frozen(kw_only=True)
class Cmd(ShellDependent):
    """`CMD`: the default command."""

    NAME: ClassVar[str] = "CMD"


@frozen(kw_only=True)
class Entrypoint(ShellDependent):
    """`ENTRYPOINT`: setting it resets an inherited CMD."""

    NAME: ClassVar[str] = "ENTRYPOINT"


@frozen(kw_only=True)
class Shell(Instruction):
    """`SHELL ["exe", "args"]`: the prefix for shell-form RUN/CMD/ENTRYPOINT (JSON only)."""

    NAME: ClassVar[str] = "SHELL"
    shell: tuple[str, ...]


@_base
class _SourcesAndDest(Instruction):
    """COPY and ADD: sources, a destination and the flags both take."""

    sources: tuple[str, ...]
    dest: str
    contents: tuple[SourceContent, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: tuple[str, ...] = ()

    def expand(self: T, expander: Expander) -> T:
        """Sources, destination, --chown/--chmod/--exclude and expandable heredoc bodies."""
        contents = tuple(
            dataclasses.replace(c, data=expander.raw(c.data)) if c.expand else c
            for c in self.contents  # type: ignore[attr-defined]
        )
        return dataclasses.replace(
            self,
            sources=tuple(expander.word(s) for s in self.sources),  # type: ignore[attr-defined]
            dest=expander.word(self.dest),  # type: ignore[attr-defined]
            contents=contents,
            chown=expander.optional(self.chown),  # type: ignore[attr-defined]
            chmod=expander.optional(self.chmod),  # type: ignore[attr-defined]
            excludes=tuple(expander.word(e) for e in self.excludes),  # type: ignore[attr-defined]
            **self._expand_extra(expander),
        )

    def _expand_extra(self, expander: Expander) -> dict[str, object]:
        return {}


@frozen(kw_only=True)
class Copy(_SourcesAndDest):
    """`COPY [--from=...] [--chown] [--chmod] [--link] [--parents] [--exclude] src... dest`."""

    NAME: ClassVar[str] = "COPY"
    from_: str | None = None
    parents: bool = False

    def _expand_extra(self, expander: Expander) -> dict[str, object]:
        return {"from_": expander.optional(self.from_)}


@frozen(kw_only=True)
class Add(_SourcesAndDest):
    """`ADD [--chown] [--chmod] [--link] [--checksum] [--keep-git-dir] [--unpack] [--exclude] src... dest`."""

    NAME: ClassVar[str] = "ADD"
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None

    def _expand_extra(self, expander: Expander) -> dict[str, object]:
        return {"checksum": expander.optional(self.checksum)}


@_base
class _SingleWord(Instruction):
    """WORKDIR, USER, STOPSIGNAL: one expandable word."""

    value: str

    def expand(self: T, expander: Expander) -> T:
        """The single argument is expanded."""
        return dataclasses.replace(self, value=expander.word(self.value))  # type: ignore[attr-defined]


@frozen(kw_only=True)
class Workdir(_SingleWord):
    """`WORKDIR path` (relative paths are relative to the previous WORKDIR)."""

    NAME: ClassVar[str] = "WORKDIR"


@frozen(kw_only=True)
class User(_SingleWord):
    """`USER user[:group]`."""

    NAME: ClassVar[str] = "USER"


@frozen(kw_only=True)
class StopSignal(_SingleWord):
    """`STOPSIGNAL signal`."""

    NAME: ClassVar[str] = "STOPSIGNAL"


@frozen(kw_only=True)
class Volume(Instruction):
    """`VOLUME path...`."""

    NAME: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]

    def expand(self, expander: Expander) -> Volume:
        """Each path is expanded; one that comes out empty (`VOLUME ""`, `VOLUME $UNSET`) is
        refused then, as BuildKit's dispatchVolume does (the parser only sees the words)."""
        paths = tuple(expander.word(p) for p in self.paths)
        if any(not p for p in paths):
            raise DockerfileError("VOLUME specified can not be an empty string")
        return dataclasses.replace(self, paths=paths)


@frozen(kw_only=True)
class Expose(Instruction):
    """`EXPOSE port[/proto]...`: ports are sorted as written, like BuildKit."""

    NAME: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]

    def expand(self, expander: Expander) -> Expose:
        """Each port word is expanded and split into fields (`EXPOSE $PORTS`)."""
        return dataclasses.replace(self, ports=tuple(w for p in self.ports for w in expander.words(p)))


@frozen(kw_only=True)
class Healthcheck(Instruction):
    """`HEALTHCHECK NONE` or `HEALTHCHECK [opts] CMD ...`; `test` is the image-config Test list.

    Durations are nanoseconds (0 = unset, inherit the default); retries 0 = unset.
    """

    NAME: ClassVar[str] = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@frozen(kw_only=True)
class Onbuild(Instruction):
    """`ONBUILD <instruction>`: stored as text in the image config, run by downstream builds."""

    NAME: ClassVar[str] = "ONBUILD"
    expression: str
    trigger: str


@frozen(kw_only=True)
class Maintainer(Instruction):
    """`MAINTAINER name` (deprecated; sets the image author)."""

    NAME: ClassVar[str] = "MAINTAINER"
    maintainer: str
