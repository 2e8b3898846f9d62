"""A rule's raw hit (`Match`) and where the scanned text came from (`Where`)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Iterator

FILE, ENV, LABEL, HISTORY, COMMAND = "file", "env", "label", "history", "command"
BINARY = "binary"   # the printable strings of a binary file: self-validating shapes only

# where the generic key=value rule runs (research/inspect.md §4.4: config-like files only)
_CONFIG_EXT = re.compile(r"\.(env(\.[\w.-]+)?|ini|cfg|conf|config|cnf|properties|props|ya?ml|toml|json|xml|"
                         r"sh|bash|zsh|ps1|tf|tfvars|tfstate|hcl|plist|secret|secrets|credentials|npmrc|pypirc)$", re.I)
_SOURCE_EXT = re.compile(r"\.(py|js|mjs|cjs|ts|rb|php|go|java|kt|cs|scala|pl|rs|swift|groovy|gradle)$", re.I)
_CONFIG_NAMES = {"dockerfile", "containerfile", "config", "credentials", "secrets", ".env", "env", "settings",
                 "inventory", "hosts"}   # Ansible inventories: `host ansible_ssh_pass=...`


@dataclass(frozen=True)
class Where:
    """The origin of a text: a file in a layer (`path`), or a config/history field."""

    kind: str
    path: str = ""      # layer path without leading '/', for files
    field: str = ""     # Env[3], Labels.k, history[2].created_by

    @property
    def name(self) -> str:
        """The file's base name."""
        return posixpath.basename(self.path)

    @property
    def config_like(self) -> bool:
        """Files whose key=value lines are configuration, and image metadata."""
        if self.kind != FILE:
            return True
        name = self.name.lower()
        return (bool(_CONFIG_EXT.search(name)) or name in _CONFIG_NAMES or
                (name.startswith(".") and "." not in name[1:]) or
                (self.path.startswith("etc/") and "." not in name))

    @property
    def source_code(self) -> bool:
        """Program text: the generic rule looks at quoted literals only."""
        return self.kind == FILE and bool(_SOURCE_EXT.search(self.name)) and not self.name.endswith((".min.js", ".min.mjs"))


@dataclass(frozen=True)
class Match:
    """One secret in a text: the span of the secret itself, and the rule that recognised it.

    `priority` settles overlaps (higher wins): context rules that know the file's format beat the
    token shapes, which beat the generic key=value rule. `anchor` is where the reported line is (a
    PEM block's BEGIN line; the secret itself otherwise)."""

    rule_id: str
    category: str
    severity: str
    start: int
    end: int
    secret: str
    prefix: str = ""
    confidence: str = "high"
    priority: int = 50
    anchor: int | None = None
    example: bool = False

    @property
    def line_pos(self) -> int:
        """The offset whose line is reported."""
        return self.start if self.anchor is None else self.anchor


def near(pattern: re.Pattern[str], text: str, keywords: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """`pattern`'s matches on just the lines that hold a keyword (lower-case): a one-line pattern
    that starts with a character class is tried at every position, so running it on the few lines
    that can match is what keeps common keywords (`://`, `login`) cheap on large texts."""
    low = text.lower()
    spans = set()
    for keyword in keywords:
        at = low.find(keyword)
        while at >= 0:
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            spans.add((text.rfind("\n", 0, at) + 1, end))
            at = low.find(keyword, end)
    for start, end in sorted(spans):
        yield from pattern.finditer(text, start, end)
