"""All rule families over one text: context rules, token shapes, the generic rule; overlaps settled.

Keywords gate each rule (lower-cased literal substrings, as gitleaks does), so a file none of them
mentions costs one `lower()` and a few substring searches.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from . import filters
from .configs import CONFIG_RULES
from .contexts import CONTEXT_RULES
from .encoded import ENCODED_RULES, encoded_runs
from .generic import generic
from .match import BINARY, Match, Where
from .services import SERVICE_RULES
from .tokens import TOKEN_RULES, TokenRule, jwt_example

_TOKENS = TOKEN_RULES + SERVICE_RULES
_CONTEXTS = CONTEXT_RULES + CONFIG_RULES + ENCODED_RULES
_BINARY_CONTEXTS = CONTEXT_RULES[:1]   # private keys
# in a binary's strings, short keywords (`sk`, `pat`, `-us`) hit everywhere and prove nothing
_BINARY_TOKENS = tuple(t for t in _TOKENS if all(len(k) >= 4 for k in t.keywords))
_GENERIC_KEYWORDS = ("pass", "pw", "psk", "secret", "key", "token", "credential")


def detect(text: str, where: Where) -> list[Match]:
    """Every secret in `text`, one per span, in text order."""
    low = text.lower()
    found: list[Match] = []
    binary = where.kind == BINARY     # strings of a binary: keys and self-validating tokens only
    for keywords, rule in _BINARY_CONTEXTS if binary else _CONTEXTS:
        if any(k in low for k in keywords):
            found.extend(rule(text, where))
    found.extend(_tokens(text, low, binary))
    if not binary:
        for start, end, decoded in encoded_runs(text):
            for m in _tokens(decoded, decoded.lower(), False):
                found.append(dataclasses.replace(m, start=start, end=end, secret=text[start:end], prefix="", priority=45))
    if not binary and any(k in low for k in _GENERIC_KEYWORDS):
        found.extend(generic(text, where))
    return resolve(found)


def _tokens(text: str, low: str, binary: bool) -> Iterator[Match]:
    """The structured token families' matches (in a binary's strings: high confidence only)."""
    for token in _BINARY_TOKENS if binary else _TOKENS:
        if not any(k in low for k in token.keywords):
            continue
        for m in token.pattern.finditer(text):
            secret = m.group(1)
            confidence = token.validate(secret)
            if confidence is None or (binary and confidence != "high"):
                continue
            example = filters.example_value(secret) or (token.rule_id == "jwt" and jwt_example(secret))
            yield Match(token.rule_id, token.category, token.severity, m.start(1), m.end(1), secret,
                        token.prefix(secret), confidence, 50, None, example)
        if binary:
            yield from _glued(text, low, token)


def _glued(text: str, low: str, token: TokenRule) -> Iterator[Match]:
    """In a binary's strings a token often follows a length or type byte that happens to be
    printable (marshal's `z` + length in a .pyc): match again from each prefix occurrence that the
    left-boundary check refused."""
    for keyword in token.keywords:
        at = low.find(keyword)
        for _ in range(256):
            if at < 0:
                break
            if at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_"):
                m = token.pattern.match(text[at:at + 1024])
                if m is not None and m.start(1) == 0 and token.validate(m.group(1)) == "high":
                    secret = m.group(1)
                    yield Match(token.rule_id, token.category, token.severity, at, at + len(secret), secret,
                                token.prefix(secret), "high", 50, None, filters.example_value(secret))
            at = low.find(keyword, at + 1)


def resolve(found: list[Match]) -> list[Match]:
    """Keep the highest-priority match on each span (ties: the earlier, longer one)."""
    kept: list[Match] = []
    for m in sorted(found, key=lambda m: (-m.priority, m.start, -(m.end - m.start))):
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    out = []
    for m in sorted(kept, key=lambda m: m.start):
        if not m.example and filters.example_value(m.secret):
            m = dataclasses.replace(m, example=True)
        out.append(m)
    return out
