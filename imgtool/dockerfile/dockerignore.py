"""`.dockerignore` files and the pattern matcher BuildKit uses for them and for COPY --exclude.

Reading (moby/patternmatcher ignorefile): strip a BOM, skip lines starting with `#`, trim
whitespace, `!` marks an exception, patterns are cleaned like Go's filepath.Clean and a leading
`/` is dropped. `<Dockerfile>.dockerignore` next to the Dockerfile replaces the context's
`.dockerignore`.

Matching (patternmatcher.MatchesOrParentMatches): patterns are evaluated in order and later ones
win; a path is matched when it or any of its parent directories matches. `*` and `?` stay
inside one path segment, `**` spans segments, `[...]` is a character class, `\\` escapes.
The compiled pattern runs as a Thompson NFA, linear in the path length, so pathological
patterns cannot hang a build the way backtracking regular expressions can.
"""

from __future__ import annotations

import functools

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import DockerfileError

_ESCAPED = frozenset(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's `path.Clean`: collapse `//`, `.` and `..` lexically; '' becomes '.'."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _go_dir(path: str) -> str:
    return go_clean(path[: path.rfind("/") + 1])


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned, with `!` kept for exceptions."""
    patterns = []
    for number, line in enumerate(text.split("\n")):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def dockerignore_for(context: Path, dockerfile: Path | None = None) -> Path | None:
    """The ignore file that applies: `<dockerfile>.dockerignore` if present, else `.dockerignore`."""
    if dockerfile is not None:
        specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if specific.is_file():
            return specific
    default = context / ".dockerignore"
    return default if default.is_file() else None


# --- compiling ---------------------------------------------------------------------------------

Predicate = Callable[[str], bool]


class _Nfa:
    """States with character-predicate and epsilon edges; `matches` runs the whole string."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[Predicate | None, int]]] = [[]]

    def new_state(self) -> int:
        self.edges.append([])
        return len(self.edges) - 1

    def _closure(self, states: set[int]) -> set[int]:
        stack = list(states)
        while stack:
            for pred, target in self.edges[stack.pop()]:
                if pred is None and target not in states:
                    states.add(target)
                    stack.append(target)
        return states

    def matches(self, text: str, final: int) -> bool:
        current = self._closure({0})
        for ch in text:
            current = self._closure({t for s in current for p, t in self.edges[s] if p is not None and p(ch)})
            if not current:
                return False
        return final in current


def _class_predicate(pattern: str, pos: int) -> tuple[Predicate, int]:
    """Parse `[...]` starting after `[`; return its predicate and the position after `]`."""
    negate = pos < len(pattern) and pattern[pos] == "^"
    if negate:
        pos += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if pos >= len(pattern):
            raise DockerfileError(f"syntax error in pattern: {pattern}")
        ch = pattern[pos]
        if ch == "]" and not first:
            pos += 1
            break
        first = False
        if ch == "\\":
            pos += 1
            if pos >= len(pattern):
                raise DockerfileError(f"syntax error in pattern: {pattern}")
            ch = pattern[pos]
        lo = hi = ch
        pos += 1
        if pos + 1 < len(pattern) and pattern[pos] == "-" and pattern[pos + 1] != "]":
            hi = pattern[pos + 1]
            if hi == "\\" and pos + 2 < len(pattern):
                hi = pattern[pos + 2]
                pos += 1
            pos += 2
            if hi < lo:
                raise DockerfileError(f"syntax error in pattern: {pattern}")
        ranges.append((lo, hi))
    frozen = tuple(ranges)
    return (lambda c: any(lo <= c <= hi for lo, hi in frozen) != negate), pos


def _not_slash(ch: str) -> bool:
    return ch != "/"


def _not_newline(ch: str) -> bool:
    return ch != "\n"


def _literal(expected: str) -> Predicate:
    return lambda ch: ch == expected


@functools.lru_cache(maxsize=256)
def _segment_nfa(pattern: str) -> tuple[_Nfa, int]:
    nfa, final = _Nfa(), 0
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        pred: Predicate
        if ch == "*":
            nfa.edges[final].append((_not_slash, final))
            continue
        if ch == "?":
            pred = _not_slash
        elif ch == "[":
            pred, pos = _class_predicate(pattern, pos)
        elif ch == "\\":
            if pos >= len(pattern):
                raise DockerfileError(f"syntax error in pattern: {pattern}")
            pred = _literal(pattern[pos])
            pos += 1
        else:
            pred = _literal(ch)
        nxt = nfa.new_state()
        nfa.edges[final].append((pred, nxt))
        final = nxt
    return nfa, final


def filepath_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match` of one path segment, which COPY/ADD source wildcards use.

    Why not fnmatch: Go negates a class with `[^...]` (fnmatch with `[!...]`), lets `\\`
    escape the next character, and calls an unterminated `[` a syntax error; a Dockerfile
    written against docker must select the same files. Linear time, like the rest of this module.
    Raises DockerfileError for a malformed pattern.
    """
    nfa, final = _segment_nfa(pattern)
    return nfa.matches(name, final)


@dataclass
class Pattern:
    """One cleaned pattern, compiled once; `exclusion` for `!` patterns."""

    cleaned: str
    exclusion: bool = False

    def __post_init__(self) -> None:
        self.kind = "exact"
        self.nfa = _Nfa()
        self.final = 0
        self._compile()

    def _add(self, pred: Predicate | None, loop: bool = False) -> None:
        if loop:
            self.nfa.edges[self.final].append((pred, self.final))
            nxt = self.nfa.new_state()
            self.nfa.edges[self.final].append((None, nxt))
        else:
            nxt = self.nfa.new_state()
            self.nfa.edges[self.final].append((pred, nxt))
        self.final = nxt

    def _add_optional_dirs(self) -> None:
        # (.*/)? : skip, or anything but newline followed by a slash
        start, inner, end = self.final, self.nfa.new_state(), self.nfa.new_state()
        self.nfa.edges[start] += [(None, end), (None, inner)]
        self.nfa.edges[inner] += [(_not_newline, inner), (_literal("/"), end)]
        self.final = end

    def _compile(self) -> None:
        pattern = self.cleaned
        pos = 0
        step = 0
        while pos < len(pattern):
            ch = pattern[pos]
            pos += 1
            if ch == "*" and pattern.startswith("*", pos):
                pos += 1
                if pattern.startswith("/", pos):
                    pos += 1
                if pos >= len(pattern):
                    if self.kind == "exact":
                        self.kind = "prefix"
                    else:
                        self._add(_not_newline, loop=True)
                        self.kind = "regexp"
                else:
                    self._add_optional_dirs()
                    self.kind = "regexp"
                if step == 0:
                    self.kind = "suffix"
            elif ch == "*":
                self._add(_not_slash, loop=True)
                self.kind = "regexp"
            elif ch == "?":
                self._add(_not_slash)
                self.kind = "regexp"
            elif ch == "\\":
                if pos >= len(pattern):
                    raise DockerfileError(f"syntax error in pattern: {pattern}")
                self._add(_literal(pattern[pos]))
                pos += 1
                self.kind = "regexp"
            elif ch == "[":
                pred, pos = _class_predicate(pattern, pos)
                self._add(pred)
                self.kind = "regexp"
            else:
                self._add(_literal(ch))
            step += 1

    def match(self, path: str) -> bool:
        """Whether `path` (slash-separated, relative to the context) matches this pattern."""
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.nfa.matches(path, self.final)


class PatternMatcher:
    """An ordered list of patterns; later patterns override earlier ones."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise DockerfileError('illegal exclusion pattern: "!"')
                text = text[1:]
            self.patterns.append(Pattern(text, exclusion))

    @property
    def has_exclusions(self) -> bool:
        """True when some `!` pattern may re-include paths below an excluded directory."""
        return any(p.exclusion for p in self.patterns)

    def matches_or_parent_matches(self, path: str) -> bool:
        """True when `path` is excluded: it or one of its parent directories matches last."""
        matched = False
        parent = _go_dir(path)
        parents = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            match = pattern.match(path)
            if not match and parent != ".":
                match = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if match:
                matched = not pattern.exclusion
        return matched
