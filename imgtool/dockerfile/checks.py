"""Build checks (BuildKit's linter rules): warnings about Dockerfiles that build but are suspect.

`run_checks(dockerfile)` walks the file the way the builder would (global ARGs, then each stage
with a `StageScope`) and returns `CheckWarning`s with rule name, message, line range and the
rule's documentation URL. The `# check=skip=...;error=true` directive is honoured: skipped
rules are dropped, and `CheckConfig.error` tells the caller to fail the build when any remain.

Base-image environments are not known here; `base_env` lets the builder supply them after it
resolved the images (UndefinedVar then stops flagging variables the base image defines).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from imgtool.frozen import frozen

from . import instructions as ins
from .directives import CheckConfig
from .errors import DockerfileError
from .goquote import quote
from .shell import Lex
from .stages import Stage, StageScope, StageVars, find_stage, platform_args
from .suggest import closest

URL = "https://docs.docker.com/go/dockerfile/rule/{}/"
_SECRET = re.compile(
    r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)"
)
_NOT_SECRET = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)")
_REFERENCE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[0-9a-fA-F]{32,})?\Z"
)
_DEFAULT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_SINGLE_PER_STAGE = ("CMD", "ENTRYPOINT", "HEALTHCHECK")


@frozen
class CheckWarning:
    """One finding: rule name, one-line message, 1-based line range, documentation URL."""

    rule: str
    message: str
    line: int
    end_line: int
    url: str
    filename: str = "Dockerfile"

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.rule}: {self.message}"


def _kebab(rule: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", rule).lower()


class _Report:
    def __init__(self, filename: str, config: CheckConfig) -> None:
        self.filename = filename
        self.config = config
        self.found: list[CheckWarning] = []

    def add(self, rule: str, message: str, line: int, end_line: int | None = None) -> None:
        if self.config.enabled(rule):
            url = URL.format(_kebab(rule))
            self.found.append(CheckWarning(rule, message, line, end_line or line, url, self.filename))


def _is_upper(word: str) -> bool:
    return word == word.upper()


def _is_lower(word: str) -> bool:
    return word == word.lower()


def _check_casing(nodes: tuple, report: _Report) -> None:
    consistent = [n.value for n in nodes if _is_lower(n.value) or _is_upper(n.value)]
    majority_lower = sum(_is_lower(v) for v in consistent) > sum(not _is_lower(v) for v in consistent)
    for node in nodes:
        if majority_lower and not _is_lower(node.value):
            wanted = "lowercase"
        elif not majority_lower and not _is_upper(node.value):
            wanted = "uppercase"
        else:
            continue
        report.add(
            "ConsistentInstructionCasing",
            f"Command '{node.value}' should match the case of the command majority ({wanted})",
            node.start_line,
            node.end_line,
        )


def _check_secret(kind: str, key: str, line: int, report: _Report) -> None:
    if _SECRET.search(key) and not _NOT_SECRET.search(key):
        report.add("SecretsUsedInArgOrEnv", f"Do not use ARG or ENV instructions for sensitive data ({kind} {quote(key)})", line)


def _check_from(stage: Stage, seen: set[str], meta: Mapping[str, str | None], report: _Report) -> None:
    node = stage.from_
    if node.as_keyword and (
        (_is_upper(node.keyword) and not _is_upper(node.as_keyword))
        or (_is_lower(node.keyword) and not _is_lower(node.as_keyword))
    ):
        report.add("FromAsCasing", f"'{node.as_keyword}' and '{node.keyword}' keywords' casing do not match", node.line)
    if node.name:
        if node.name_as_written != node.name:
            report.add("StageNameCasing", f"Stage name '{node.name_as_written}' should be lowercase", node.line)
        if node.name in seen:
            report.add("DuplicateStageName", f"Duplicate stage name {quote(node.name)}, stage names should be unique", node.line)
        if node.name in ("context", "scratch"):
            report.add(
                "ReservedStageName",
                f"Stage name should not use the same name as reserved stage {quote(node.name)}",
                node.line,
            )
        seen.add(node.name)
    if node.platform is not None:
        platform = node.platform
        if platform in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            report.add(
                "RedundantTargetPlatform",
                f"Setting platform to predefined {platform} in FROM is redundant as this is the default behavior",
                node.line,
            )
        elif "$" not in platform:
            parts = [p for p in platform.lower().split("/") if p]
            if not any(p in node.name for p in parts):
                report.add(
                    "FromPlatformFlagConstDisallowed",
                    f"FROM --platform flag should not use constant value {quote(platform)}",
                    node.line,
                )
    automatic = platform_args("linux/amd64")
    known = dict(meta)
    for text in (node.base, node.platform or ""):
        try:
            result = Lex().process_with_matches(text, {**automatic, **{k: v or "" for k, v in known.items()}})
        except DockerfileError:
            continue
        for name in sorted(result.unmatched):
            if name not in known:
                hint = closest(name, sorted([*known, *automatic]), case_sensitive=True)
                message = f"FROM argument '{name}' is not declared" + (f" (did you mean {hint}?)" if hint else "")
                report.add("UndefinedArgInFrom", message, node.line)
    if "$" in node.base:
        defaults = {k: v for k, v in meta.items() if v is not None}
        try:
            base = Lex().process_word(node.base, {**automatic, **defaults})
        except DockerfileError:
            base = ""
        if not base or not _REFERENCE.match(base):
            report.add(
                "InvalidDefaultArgInFrom",
                f"Default value for ARG {node.base} results in empty or invalid base image name",
                node.line,
            )


def _check_instruction(
    instruction: ins.Instruction, expanded: ins.Instruction, state: dict, report: _Report
) -> None:
    name = instruction.NAME
    if isinstance(instruction, ins.Maintainer):
        report.add("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", instruction.line)
    if isinstance(instruction, ins.Shell):
        state["shell_set"] = True
    if isinstance(instruction, (ins.Cmd, ins.Entrypoint)) and instruction.shell_form and not state["shell_set"]:
        report.add(
            "JSONArgsRecommended",
            f"JSON arguments recommended for {name} to prevent unintended behavior related to OS signals",
            instruction.line,
        )
    if isinstance(instruction, (ins.Env, ins.Label)) and any(p.legacy for p in instruction.pairs):
        report.add(
            "LegacyKeyValueFormat", f'"{name} key=value" should be used instead of legacy "{name} key value" format', instruction.line
        )
    if isinstance(instruction, ins.Env):
        for pair in instruction.pairs:
            _check_secret("ENV", pair.key, instruction.line, report)
    if isinstance(instruction, ins.Arg):
        for definition in instruction.args:
            _check_secret("ARG", definition.key, instruction.line, report)
    if isinstance(expanded, ins.Workdir):
        if expanded.value.startswith("/"):
            state["workdir_absolute"] = True
        elif not state["workdir_absolute"]:
            report.add(
                "WorkdirRelativePath",
                f"Relative workdir {quote(expanded.value)} can have unexpected results if the base image changes",
                instruction.line,
            )
    if isinstance(expanded, ins.Expose):
        for port in expanded.ports:
            if ":" in port:
                report.add(
                    "ExposeInvalidFormat",
                    f"EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'",
                    instruction.line,
                )
            _, slash, proto = port.partition("/")
            if slash and proto != proto.lower():
                report.add(
                    "ExposeProtoCasing", f"Defined protocol '{port}' in EXPOSE instruction should be lowercase", instruction.line
                )


def _check_undefined(instruction: ins.Instruction, unmatched: set[str], scope: StageScope, report: _Report) -> None:
    known = set(scope.args) | set(scope.env)
    for name in sorted(unmatched - known):
        hint = closest(name, sorted(known), case_sensitive=True)
        message = f"Usage of undefined variable '${name}'" + (f" (did you mean ${hint}?)" if hint else "")
        report.add("UndefinedVar", message, instruction.line, instruction.end_line)


def _check_stage(
    stage: Stage, scope: StageScope, report: _Report, workdir_absolute: bool
) -> bool:
    state = {"shell_set": False, "workdir_absolute": workdir_absolute}
    counts = {n: sum(i.NAME == n for i in stage.instructions) for n in _SINGLE_PER_STAGE}
    for instruction in stage.instructions:
        if counts.get(instruction.NAME, 0) > 1:
            counts[instruction.NAME] -= 1
            report.add(
                "MultipleInstructionsDisallowed",
                f"Multiple {instruction.NAME} instructions should not be used in the same stage because only the last one will be used",
                instruction.line,
            )
        expander = scope.expander()
        try:
            expanded = scope.dispatch(instruction, expander)
        except DockerfileError:
            expanded = instruction
        _check_instruction(instruction, expanded, state, report)
        _check_undefined(instruction, expander.unmatched, scope, report)
    return state["workdir_absolute"]


def run_checks(
    dockerfile,  # imgtool.dockerfile.Dockerfile (not imported: it imports this module)
    build_args: Mapping[str, str] | None = None,
    *,
    config: CheckConfig | None = None,
    base_env: Callable[[str], Mapping[str, str] | None] | None = None,
) -> list[CheckWarning]:
    """Run the build checks over a parsed Dockerfile and return the warnings, in file order.

    `config` defaults to the file's `# check=` directive; `base_env(image)` may return the
    environment of an external base image (default: just PATH).
    """
    build_args = build_args or {}
    report = _Report(dockerfile.filename, config or dockerfile.check_config())
    for warning in dockerfile.parsed.warnings:
        report.add(warning.rule, "Empty continuation line", warning.line)
    _check_casing(dockerfile.parsed.nodes, report)
    meta: dict[str, str | None] = {}
    for arg in dockerfile.meta_args:
        for definition in arg.args:
            meta[definition.key] = definition.value
            _check_secret("ARG", definition.key, arg.line, report)
    globals_ = dockerfile.global_args(build_args)
    seen: set[str] = set()
    stage_env: dict[int, tuple[dict[str, str], StageVars, bool]] = {}
    for stage in dockerfile.stages:
        _check_from(stage, seen, meta, report)
        parent = find_stage(dockerfile.stages[: stage.index], stage.from_.base)
        if parent is not None:
            env, inherited, workdir_absolute = stage_env[parent.index]
        else:
            env = dict((base_env(stage.from_.base) if base_env else None) or _DEFAULT_ENV)
            inherited, workdir_absolute = StageVars(), False
        scope = StageScope(globals_, build_args, env, dockerfile.escape, inherited)
        workdir_absolute = _check_stage(stage, scope, report, workdir_absolute)
        stage_env[stage.index] = (scope.env, scope.vars(), workdir_absolute)
    return sorted(report.found, key=lambda w: w.line)
