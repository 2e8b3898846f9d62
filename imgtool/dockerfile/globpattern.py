"""The shell glob of `${v#p}`, `${v%p}`, `${v/p/r}`: `*`, `?`, `\\*` `\\?` `\\\\` literal.

BuildKit turns these patterns into RE2 regular expressions, which run in linear time. Python's
backtracking `re` would not (`${v#*a*a*a*a*b}` on a long value is exponential), so the pattern
is simulated here as a small NFA: one pass over the value, O(len(pattern) * len(value)).
"""

from __future__ import annotations


from imgtool.frozen import frozen

from .errors import ExpansionError

STAR = object()
ANY = object()


@frozen
class Glob:
    """A compiled pattern: a tuple of tokens (`STAR`, `ANY` or a literal character)."""

    tokens: tuple

    def reversed(self) -> Glob:
        """The pattern that matches the reversed strings; suffix removal is prefix removal on reversed text."""
        return Glob(self.tokens[::-1])

    def _closure(self, states: dict[int, int]) -> dict[int, int]:
        # a star may match nothing: its state also stands for the state after it
        out: dict[int, int] = {}
        for state, start in sorted(states.items()):
            while True:
                if state not in out or out[state] > start:
                    out[state] = start
                if state < len(self.tokens) and self.tokens[state] is STAR:
                    state += 1
                    continue
                break
        return out

    def _step(self, states: dict[int, int], ch: str) -> dict[int, int]:
        nxt: dict[int, int] = {}
        for state, start in states.items():
            if state == len(self.tokens):
                continue
            tok = self.tokens[state]
            target = state if tok is STAR else state + 1
            if tok is STAR or tok is ANY or tok == ch:
                if target not in nxt or nxt[target] > start:
                    nxt[target] = start
        return self._closure(nxt)

    def leftmost_match(self, text: str, anchored: bool) -> tuple[int, list[int]] | None:
        """The leftmost start where the pattern matches, and every end position for that start.

        Why every end: `#`/`%` want the shortest, `##`/`%%`/`/` the longest match; one pass
        yields both. Threads are keyed by state and keep the smallest start, which is sound:
        whatever a later start can still reach from a state, the earlier one can too.
        """
        final = len(self.tokens)
        states: dict[int, int] = {}
        best: int | None = None
        ends: list[int] = []
        for pos in range(len(text) + 1):
            if best is None and 0 not in states and (pos == 0 or not anchored):
                states = self._closure({**states, 0: pos})
            if final in states and (best is None or states[final] <= best):
                if best is None or states[final] < best:
                    best, ends = states[final], []
                ends.append(pos)
            if best is not None:
                states = {s: st for s, st in states.items() if st <= best}
            if pos == len(text) or (not states and (anchored or best is not None)):
                break
            states = self._step(states, text[pos])
        if best is None:
            return None
        return best, ends


def compile_glob(pattern: str) -> Glob:
    """Parse a substitution pattern; `\\}` and `\\/` lose their backslash, other escapes must be `* ? \\`."""
    tokens: list = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            tokens.append(STAR)
        elif ch == "?":
            tokens.append(ANY)
        elif ch == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            if i >= len(pattern) or pattern[i] not in "*?\\":
                bad = pattern[i] if i < len(pattern) else "EOF"
                raise ExpansionError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{bad}'")
            tokens.append(pattern[i])
            i += 1
        else:
            tokens.append(ch)
    return Glob(tuple(tokens))


def trim_prefix(pattern: str, value: str, longest: bool) -> str:
    """`${v#p}` / `${v##p}`: drop the shortest / longest prefix of `value` matching `pattern`."""
    match = compile_glob(pattern).leftmost_match(value, anchored=True)
    if match is None:
        return value
    _, ends = match
    return value[(max(ends) if longest else min(ends)):]


def trim_suffix(pattern: str, value: str, longest: bool) -> str:
    """`${v%p}` / `${v%%p}`: the prefix rule applied to the reversed value and pattern."""
    match = compile_glob(pattern).reversed().leftmost_match(value[::-1], anchored=True)
    if match is None:
        return value
    _, ends = match
    cut = max(ends) if longest else min(ends)
    return value[: len(value) - cut]


def replace(pattern: str, value: str, replacement: str, replace_all: bool) -> str:
    """`${v/p/r}` / `${v//p/r}`: leftmost-longest matches replaced, like RE2's ReplaceAll.

    An empty match right after a previous match is skipped, as Go does.
    """
    glob = compile_glob(pattern)
    out: list[str] = []
    pos = 0
    last_end = -1
    while pos <= len(value):
        match = glob.leftmost_match(value[pos:], anchored=False)
        if match is None:
            break
        start, ends = match
        start += pos
        end = pos + max(ends)
        if end == start and start == last_end:
            # Go forbids an empty match adjacent to the previous match: move one character on
            if start >= len(value):
                break
            out.append(value[pos : start + 1])
            pos = start + 1
            continue
        out.append(value[pos:start])
        out.append(replacement)
        last_end = end
        if not replace_all:
            pos = end
            break
        if end == start:
            if start < len(value):
                out.append(value[start])
            pos = start + 1
        else:
            pos = end
    out.append(value[pos:])
    return "".join(out)
