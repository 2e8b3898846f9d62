""""Did you mean ...?" hints for misspelt instructions and flags, as BuildKit adds them."""

from __future__ import annotations


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(word: str, options: list[str] | tuple[str, ...], case_sensitive: bool = False) -> str | None:
    """The option nearest to `word` if it is close enough to be a typo, else None.

    Why bounded: a hint for `FOO` should not be `ADD`; only small edit distances help.
    """
    if not word or len(word) > 64:
        return None
    key = word if case_sensitive else word.lower()
    best, best_distance = None, None
    for option in options:
        candidate = option if case_sensitive else option.lower()
        distance = _distance(key, candidate)
        if best_distance is None or distance < best_distance:
            best, best_distance = option, distance
    if best_distance is None or best_distance == 0 or best_distance > max(1, min(3, len(word) // 2)):
        return None
    return best


def with_hint(message: str, word: str, options: list[str] | tuple[str, ...], case_sensitive: bool = False) -> str:
    """`message` plus ` (did you mean X?)` when a close option exists."""
    match = closest(word, options, case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message
