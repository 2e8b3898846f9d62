"""Which steps of a build were CACHED, read from `--progress plain` (BuildKit's plain format:
`#N [stage k/n] INSTRUCTION` names step N, `#N CACHED` marks it as a cache hit)."""

from __future__ import annotations

import re

_STEP = re.compile(r"^#(\d+) \[(?:[^\]]*?\s)?\d+/\d+\] (.+?)\s*$")
_CACHED = re.compile(r"^#(\d+) CACHED\s*$")


def cached_steps(output: str) -> dict[str, bool]:
    """{instruction text: was it a cache hit} for every numbered step in `output`."""
    names: dict[str, str] = {}
    hits: set[str] = set()
    for line in output.splitlines():
        if m := _STEP.match(line):
            names[m.group(1)] = m.group(2)
        elif m := _CACHED.match(line):
            hits.add(m.group(1))
    return {text: num in hits for num, text in names.items()}
