"""`--flag[=value]` parsing per instruction, with BuildKit's rules and messages.

Each instruction declares its flags: booleans (`--link`, `--link=false`), strings that need a
value (`--from=stage`), and repeatable strings (`--mount`, `--exclude`). Anything else is an
"unknown flag" error, which is what BuildKit reports for `CMD --doit ...` even though the parser
accepts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from imgtool.frozen import frozen

from .errors import DockerfileError
from .suggest import with_hint


class Kind(Enum):
    """How a flag takes its value."""

    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


@frozen
class Flags:
    """The parsed flags of one instruction: name -> value (bool, str or tuple of str)."""

    values: Mapping[str, object]

    def string(self, name: str) -> str | None:
        """The value of a string flag, None when not given."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def boolean(self, name: str) -> bool:
        """A boolean flag; absent means False."""
        return self.values.get(name) is True

    def strings(self, name: str) -> tuple[str, ...]:
        """Every value of a repeatable flag, in order."""
        value = self.values.get(name, ())
        return value if isinstance(value, tuple) else ()


def parse_flags(raw: tuple[str, ...], spec: Mapping[str, Kind]) -> Flags:
    """Check `raw` (`--name=value` words from the parser) against `spec` and return the values."""
    values: dict[str, object] = {}
    for arg in raw:
        if not arg.startswith("--"):
            raise DockerfileError(f"arg should start with -- : {arg}")
        if arg == "--":
            break
        name, has_value, value = arg[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            raise DockerfileError(with_hint(f"unknown flag: {name}", name, sorted(spec), case_sensitive=True))
        if name in values and kind is not Kind.STRINGS:
            raise DockerfileError(f"duplicate flag specified: {name}")
        if kind is Kind.BOOL:
            if has_value and value == "":
                raise DockerfileError(f"missing a value on flag: {name}")
            lower = value.lower()
            if lower not in ("", "true", "false"):
                raise DockerfileError(f"expecting boolean value for flag {name}, not: {value}")
            values[name] = lower != "false"
        elif not has_value:
            raise DockerfileError(f"missing a value on flag: {name}")
        elif kind is Kind.STRING:
            values[name] = value
        else:
            values[name] = (*values.get(name, ()), value)  # type: ignore[misc]
    return Flags(values)
