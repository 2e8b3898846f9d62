"""Parse tree nodes -> typed instructions, with each instruction's flags and argument rules.

This is BuildKit's `instructions.ParseInstruction`: it decides which flags an instruction
accepts, how many arguments it needs, that SHELL must be JSON, which heredocs are COPY
sources, and it rejects unknown instructions (with a "did you mean" hint).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import instructions as ins
from .errors import DockerfileError
from .flags import Flags, Kind, parse_flags
from .goquote import quote, strip_space
from .mounts import parse_mount
from .nodes import Node
from .parser import heredocs_in_line
from .suggest import with_hint

_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"(?i)^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*")
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
MIN_DURATION = 10**6  # 1ms, Docker's minimum healthcheck interval

INSTRUCTION_NAMES = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip

_COPY_FLAGS = {"chown": Kind.STRING, "chmod": Kind.STRING, "link": Kind.BOOL, "exclude": Kind.STRINGS}
FLAG_SPECS: dict[str, dict[str, Kind]] = {
    "from": {"platform": Kind.STRING},
    "run": {"mount": Kind.STRINGS, "network": Kind.STRING, "security": Kind.STRING},
    "copy": {**_COPY_FLAGS, "from": Kind.STRING, "parents": Kind.BOOL},
    "add": {**_COPY_FLAGS, "checksum": Kind.STRING, "keep-git-dir": Kind.BOOL, "unpack": Kind.BOOL},
    "healthcheck": {
        name: Kind.STRING for name in ("interval", "timeout", "start-period", "start-interval", "retries")
    },
}


def parse_duration(text: str, flag: str) -> int:
    """Go's time.ParseDuration (nanoseconds), with Docker's 1ms minimum for healthcheck times;
    zero in any spelling (`0`, `0s`, `0ms`) is the default, as parseOptInterval has it."""
    body = text.lstrip("+-")
    if body == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            raise DockerfileError(f"time: invalid duration {quote(text)}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise DockerfileError(f"time: invalid duration {quote(text)}")
    nanos = -int(total) if text.startswith("-") else int(total)
    if nanos == 0:  # `--interval=0s` means the default, as in current BuildKit (0.8 refused it)
        return 0
    if nanos < MIN_DURATION:
        raise DockerfileError(f'Interval "{flag}" cannot be less than 1ms')
    return nanos


def _common(node: Node) -> dict[str, object]:
    return {"keyword": node.value, "line": node.start_line, "end_line": node.end_line, "original": node.original}


def _flags(node: Node) -> Flags:
    return parse_flags(node.flags, FLAG_SPECS.get(node.keyword, {}))


def _exactly_one(node: Node, name: str) -> str:
    _flags(node)
    if len(node.args) != 1:
        raise DockerfileError(f"{name} requires exactly one argument")
    return node.args[0]


def _at_least_one(node: Node, name: str) -> None:
    if not node.args:
        raise DockerfileError(f"{name} requires at least one argument")


def _pairs(node: Node, name: str) -> tuple[ins.KeyValue, ...]:
    _flags(node)
    _at_least_one(node, name)
    if len(node.args) % 3:
        raise DockerfileError(f"Bad input to {name}, too many arguments")
    pairs = []
    for i in range(0, len(node.args), 3):
        key, value, sep = node.args[i : i + 3]
        if not key:
            raise DockerfileError(f"{name} names can not be blank")
        pairs.append(ins.KeyValue(key, value, legacy=sep == ""))
    return tuple(pairs)


def _from(node: Node) -> ins.From:
    args = node.args
    flags = _flags(node)
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(
                f"invalid name for build stage: {quote(args[2])}, name can't start with a number or contain symbols"
            )
        return ins.From(
            **_common(node), base=args[0], name=name, name_as_written=args[2], as_keyword=args[1],
            platform=flags.string("platform"),
        )  # fmt: skip
    if len(args) != 1:
        raise DockerfileError("FROM requires either one or three arguments")
    return ins.From(**_common(node), base=args[0], platform=flags.string("platform"))


def _shell_dependent(node: Node, cls: type, **extra: object) -> ins.ShellDependent:
    command = node.args if node.is_json else ((" ".join(node.args),) if node.args else ())
    return cls(**_common(node), command=command, shell_form=not node.is_json, files=node.heredocs, **extra)


def _run(node: Node) -> ins.Run:
    flags = _flags(node)
    network = flags.string("network")
    if network is not None and network not in ("default", "none", "host"):
        raise DockerfileError(f"unsupported network mode {quote(network)}")
    security = flags.string("security")
    if security is not None and security not in ("sandbox", "insecure"):
        raise DockerfileError(f"unsupported security mode {quote(security)}")
    mounts = tuple(parse_mount(spec) for spec in flags.strings("mount"))
    return _shell_dependent(node, ins.Run, mounts=mounts, network=network, security=security)  # type: ignore[return-value]


def _shell(node: Node) -> ins.Shell:
    _flags(node)
    if not node.args:
        raise DockerfileError("SHELL requires at least one argument")
    if not node.is_json:
        raise DockerfileError("SHELL requires the arguments to be in JSON form")
    return ins.Shell(**_common(node), shell=node.args)


def _sources(node: Node, name: str) -> dict[str, object]:
    if len(node.args) < 2:
        raise DockerfileError(
            f"{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    *sources, dest = node.args
    if heredocs_in_line(dest):
        raise DockerfileError(f"{name} cannot accept a heredoc as a destination")
    bodies = {doc.name: doc for doc in node.heredocs}
    paths, contents = [], []
    for src in sources:
        opened = heredocs_in_line(src)
        if not opened:
            paths.append(src)
            continue
        doc = bodies.get(opened[0].name, opened[0])  # JSON form: no body was read, like BuildKit
        contents.append(ins.SourceContent(doc.name, doc.body(), doc.expand))
    return {"sources": tuple(paths), "dest": dest, "contents": tuple(contents)}


def _copy_common(flags: Flags) -> dict[str, object]:
    return {
        "chown": flags.string("chown"),
        "chmod": flags.string("chmod"),
        "link": flags.boolean("link"),
        "excludes": flags.strings("exclude"),
    }


def _copy(node: Node) -> ins.Copy:
    flags = _flags(node)
    return ins.Copy(
        **_common(node), **_sources(node, "COPY"), **_copy_common(flags),
        from_=flags.string("from"), parents=flags.boolean("parents"),
    )  # fmt: skip


def _add(node: Node) -> ins.Add:
    flags = _flags(node)
    unpack = flags.values.get("unpack")
    return ins.Add(
        **_common(node), **_sources(node, "ADD"), **_copy_common(flags),
        checksum=flags.string("checksum"), keep_git_dir=flags.boolean("keep-git-dir"),
        unpack=unpack if isinstance(unpack, bool) else None,
    )  # fmt: skip


def _healthcheck(node: Node) -> ins.Healthcheck:
    _at_least_one(node, "HEALTHCHECK")
    kind = node.args[0].upper()
    rest = node.args[1:]
    if kind == "NONE":
        if rest:
            raise DockerfileError("HEALTHCHECK NONE takes no arguments")
        _flags(node)
        return ins.Healthcheck(**_common(node), test=("NONE",))
    flags = _flags(node)
    if kind != "CMD":
        raise DockerfileError(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    command = rest if node.is_json else ((" ".join(rest),) if rest else ())
    if not command:
        raise DockerfileError("Missing command after HEALTHCHECK CMD")
    retries = 0
    if flags.string("retries"):
        text = flags.string("retries") or ""
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", text):
            raise DockerfileError(f'strconv.ParseInt: parsing {quote(text)}: invalid syntax')
        retries = int(text)
        if retries < 1:
            raise DockerfileError(f"--retries must be at least 1 (not {retries})")
    durations = {
        field: parse_duration(value, flag) if (value := flags.string(flag)) else 0
        for field, flag in (
            ("interval", "interval"), ("timeout", "timeout"),
            ("start_period", "start-period"), ("start_interval", "start-interval"),
        )
    }  # fmt: skip
    test = ("CMD" if node.is_json else "CMD-SHELL", *command)
    return ins.Healthcheck(**_common(node), test=test, retries=retries, **durations)  # type: ignore[arg-type]


def _arg(node: Node) -> ins.Arg:
    _flags(node)
    _at_least_one(node, "ARG")
    defs = []
    for word in node.args:
        key, has_value, value = word.partition("=")
        if has_value and not key:
            raise DockerfileError("ARG names can not be blank")
        defs.append(ins.ArgDef(key, value if has_value else None))
    return ins.Arg(**_common(node), args=tuple(defs))


def _onbuild(node: Node) -> ins.Onbuild:
    if node.sub is None:
        raise DockerfileError("ONBUILD requires at least one argument")
    _flags(node)
    trigger = node.sub.value.upper()
    if trigger == "ONBUILD":
        raise DockerfileError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise DockerfileError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for doc in node.heredocs:
        expression += "\n" + doc.content + doc.name
    return ins.Onbuild(**_common(node), expression=expression, trigger=trigger)


def _volume(node: Node) -> ins.Volume:
    _flags(node)
    _at_least_one(node, "VOLUME")
    paths = tuple(strip_space(p) for p in node.args)
    if any(not p for p in paths):
        raise DockerfileError("VOLUME specified can not be an empty string")
    return ins.Volume(**_common(node), paths=paths)


def _expose(node: Node) -> ins.Expose:
    _at_least_one(node, "EXPOSE")
    _flags(node)
    return ins.Expose(**_common(node), ports=tuple(sorted(node.args)))


_CONVERTERS: dict[str, Callable[[Node], ins.Instruction]] = {
    "from": _from,
    "env": lambda n: ins.Env(**_common(n), pairs=_pairs(n, "ENV")),
    "label": lambda n: ins.Label(**_common(n), pairs=_pairs(n, "LABEL")),
    "arg": _arg,
    "run": _run,
    "cmd": lambda n: (_flags(n), _shell_dependent(n, ins.Cmd))[1],
    "entrypoint": lambda n: (_flags(n), _shell_dependent(n, ins.Entrypoint))[1],
    "shell": _shell,
    "copy": _copy,
    "add": _add,
    "workdir": lambda n: ins.Workdir(**_common(n), value=_exactly_one(n, "WORKDIR")),
    "user": lambda n: ins.User(**_common(n), value=_exactly_one(n, "USER")),
    "stopsignal": lambda n: ins.StopSignal(**_common(n), value=_exactly_one(n, "STOPSIGNAL")),
    "maintainer": lambda n: ins.Maintainer(**_common(n), maintainer=_exactly_one(n, "MAINTAINER")),
    "volume": _volume,
    "expose": _expose,
    "healthcheck": _healthcheck,
    "onbuild": _onbuild,
}


def to_instruction(node: Node, filename: str = "Dockerfile") -> ins.Instruction:
    """The typed instruction for `node`; errors carry the node's line."""
    convert = _CONVERTERS.get(node.keyword)
    try:
        if convert is None:
            raise DockerfileError(with_hint(f"unknown instruction: {node.value}", node.value, INSTRUCTION_NAMES))
        return convert(node)
    except DockerfileError as exc:
        raise exc.located(node.start_line, filename, node.end_line) from None
