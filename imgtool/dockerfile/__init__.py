"""imgtool's Dockerfile frontend: parse, type, scope and check Dockerfiles like BuildKit.

Nothing here executes anything. The builder uses:

* `parse(text, filename)` -> `Dockerfile`: stages with typed instructions, global ARGs,
  directives, parser warnings; raises `DockerfileError` (`Dockerfile:LINE: message`).
* `Dockerfile.global_args(build_args, platform=...)`, `Dockerfile.target(name)`,
  `Dockerfile.stages_for(target, globals)` (only what the target needs), `resolve_from`.
* `StageScope` to expand each instruction at dispatch with the stage environment.
* `read_dockerignore` / `PatternMatcher` for the build context.
* `run_checks(dockerfile)` for build-check warnings (`imgtool build --check`).
"""

from __future__ import annotations

from collections.abc import Mapping

from imgtool.frozen import frozen

from . import instructions
from .checks import CheckWarning, run_checks
from .convert import to_instruction
from .directives import CheckConfig, Directive, parse_check
from .dockerignore import PatternMatcher, dockerignore_for, read_dockerignore
from .errors import DockerfileError, ExpansionError
from .nodes import Heredoc, Node, dump
from .parser import ParseResult, ParseWarning
from .parser import parse as parse_nodes
from .shell import Expansion, Lex
from .stages import PROXY_ARGS, Stage, StageScope, global_args, platform_args, reachable_stages, resolve_from


@frozen
class Dockerfile:
    """A parsed Dockerfile: global ARGs, stages, directives and the raw parse result."""

    filename: str
    parsed: ParseResult
    meta_args: tuple[instructions.Arg, ...]
    stages: tuple[Stage, ...]

    @property
    def escape(self) -> str:
        """The escape character (`\\` or `` ` `` from the escape directive)."""
        return self.parsed.escape

    @property
    def directives(self) -> tuple[Directive, ...]:
        """The parser directives at the top of the file."""
        return self.parsed.directives

    def check_config(self) -> CheckConfig:
        """The `# check=` directive, parsed (defaults when absent)."""
        for directive in self.directives:
            if directive.name == "check":
                return parse_check(directive.value, directive.line, self.filename)
        return CheckConfig()

    def global_args(
        self, build_args: Mapping[str, str] | None = None, platform: str = "linux/amd64", build_platform: str | None = None
    ) -> dict[str, str]:
        """Values of the global ARGs (with platform ARGs), for FROM lines and `ARG NAME` pulls."""
        return global_args(self.meta_args, build_args, platform_args(platform, build_platform), self.escape)

    def target(self, name: str | None = None) -> Stage:
        """The stage to build: `--target` by name (the last of that name, as BuildKit finds it),
        or the last stage."""
        if name is None:
            return self.stages[-1]
        for stage in reversed(self.stages):
            if stage.name and stage.name == name.lower():
                return stage
        raise DockerfileError(f"target stage {name!r} could not be found", filename=self.filename)

    def stages_for(self, target: str | None, globals_: Mapping[str, str]) -> tuple[Stage, ...]:
        """The stages `target` depends on, in file order (the others need not be built)."""
        try:
            return reachable_stages(self.stages, self.target(target), globals_, self.escape)
        except DockerfileError as exc:
            raise type(exc)(exc.message, exc.line, self.filename, exc.end_line) from None


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text into stages of typed instructions; raise DockerfileError on bad input.

    Why one call: the builder, the linter and `imgtool debug parse` all need the same view of
    the file, with the same errors and line numbers.
    """
    parsed = parse_nodes(text, filename)
    meta_args: list[instructions.Arg] = []
    froms: list[tuple[instructions.From, list[instructions.Instruction]]] = []
    for node in parsed.nodes:
        instruction = to_instruction(node, filename)
        if isinstance(instruction, instructions.Copy) and instruction.from_:
            _literal_from(instruction.from_, parsed.escape, node.start_line, filename)
        if isinstance(instruction, instructions.Run):
            _literal_mount_from(instruction, node.start_line, filename)
        if isinstance(instruction, instructions.From):
            froms.append((instruction, []))
        elif froms:
            froms[-1][1].append(instruction)
        elif isinstance(instruction, instructions.Arg):
            meta_args.append(instruction)
        else:
            raise DockerfileError("no build stage in current context", node.start_line, filename)
    if not froms and meta_args:  # only ARGs: BuildKit's toDispatchState refuses (docker 20.10 panics)
        raise DockerfileError("dockerfile contains no stages to build", meta_args[-1].line, filename)
    stages = tuple(Stage(i, from_, tuple(body)) for i, (from_, body) in enumerate(froms))
    return Dockerfile(filename, parsed, tuple(meta_args), stages)


def _literal_from(value: str, escape: str, line: int, filename: str) -> None:
    """COPY --from takes no variables: BuildKit's toCommand refuses any value the lexer would
    change (docker 20.10 fails too, reading `$X` as an image name); a stage chosen by an ARG
    goes through `FROM $X AS name` (tests/builder/differential fail-copy-from-variable)."""
    try:
        changed = Lex(escape).process_word(value, {}) != value
    except DockerfileError as exc:
        raise DockerfileError(exc.message, line, filename) from None
    if changed:
        raise DockerfileError("variable expansion is not supported for --from, define a new stage with FROM "
                              "using ARG from global scope as a workaround", line, filename)


def _literal_mount_from(run: instructions.Run, line: int, filename: str) -> None:
    """RUN --mount from= takes no variables either: BuildKit's parseMount, reading mounts before
    any expansion to find the stages a RUN needs, refuses a `$` short of the last character
    (docker 20.10 fails reading it as an image name; fail-mount-from-variable)."""
    for mount in run.mounts:
        value = mount.from_ or ""
        if "$" in value[:-1]:
            raise DockerfileError("'from' doesn't support variable expansion, define alias stage instead", line,
                                  filename)


def parse_file(path: str) -> Dockerfile:
    """Read and parse a Dockerfile; undecodable bytes are kept (quoted as \\xNN in dumps)."""
    from pathlib import Path

    data = Path(path).read_bytes()
    return parse(data.decode("utf-8", "surrogateescape"), Path(path).name)


__all__ = [
    "PROXY_ARGS",
    "CheckConfig",
    "CheckWarning",
    "Directive",
    "Dockerfile",
    "DockerfileError",
    "Expansion",
    "ExpansionError",
    "Heredoc",
    "Lex",
    "Node",
    "ParseResult",
    "ParseWarning",
    "PatternMatcher",
    "Stage",
    "StageScope",
    "dockerignore_for",
    "dump",
    "global_args",
    "instructions",
    "parse",
    "parse_file",
    "parse_nodes",
    "platform_args",
    "read_dockerignore",
    "reachable_stages",
    "resolve_from",
    "run_checks",
]
