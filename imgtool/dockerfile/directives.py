"""Parser directives: `# syntax=`, `# escape=`, `# check=` at the very top of a Dockerfile.

Directives are only recognised before anything else: the first line that is not a valid
directive (an instruction, an empty line, any other comment, an unknown directive key) ends
them. A repeated directive is an error. `escape` changes the escape and line-continuation
character (only `\\` and `` ` `` are allowed); `check` configures build checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imgtool.frozen import frozen

from .errors import DockerfileError

KNOWN = ("syntax", "escape", "check")
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")


@frozen
class Directive:
    """One directive as written: lower-case name, value, 1-based line."""

    name: str
    value: str
    line: int


@dataclass
class DirectiveParser:
    """Feeds lines one by one; stops recognising directives at the first non-directive line."""

    filename: str = "Dockerfile"
    found: list[Directive] = field(default_factory=list)
    done: bool = False
    line: int = 0

    def feed(self, text: str) -> Directive | None:
        """Offer the next physical line (newline and leading blanks removed); return its directive if any."""
        self.line += 1
        if self.done:
            return None
        match = _DIRECTIVE.match(text)
        if match is None or match.group(1).lower() not in KNOWN:
            self.done = True
            return None
        name = match.group(1).lower()
        if any(d.name == name for d in self.found):
            raise DockerfileError(f"only one {name} parser directive can be used", self.line, self.filename)
        directive = Directive(name, match.group(2), self.line)
        self.found.append(directive)
        return directive


@frozen
class CheckConfig:
    """`# check=skip=A,B;error=true`: which build checks to skip, and whether warnings fail the build."""

    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    error: bool = False

    def enabled(self, rule: str) -> bool:
        """True when `rule` should run under this configuration."""
        return not self.skip_all and rule not in self.skip


def parse_check(value: str, line: int = 0, filename: str = "Dockerfile") -> CheckConfig:
    """Parse the value of a `check` directive (or of the BUILDKIT_DOCKERFILE_CHECK build arg)."""
    skip: set[str] = set()
    skip_all = False
    error = False
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        val = val.strip()
        if not sep:
            raise DockerfileError(f"invalid check directive: {part}", line or None, filename)
        if key == "skip":
            names = {name.strip() for name in val.split(",") if name.strip()}
            if "all" in {name.lower() for name in names}:
                skip_all = True
            skip |= names
        elif key == "error":
            if val.lower() not in ("true", "false"):
                raise DockerfileError(f"failed to parse check error value {val!r}", line or None, filename)
            error = val.lower() == "true"
        else:
            raise DockerfileError(f"invalid check directive: {part}", line or None, filename)
    return CheckConfig(frozenset(skip), skip_all, error)
