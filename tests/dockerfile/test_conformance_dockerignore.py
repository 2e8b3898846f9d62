"""moby/patternmatcher's TestMatches table: 68 single-pattern and 4 multi-pattern cases."""

from __future__ import annotations

import json

import pytest

from imgtool.dockerfile import PatternMatcher

from tests.conftest import shared

TABLE = json.loads(shared("conformance", "dockerignore-patternmatcher", "matches.json").read_text(encoding="utf-8"))
CASES = [([c["pattern"]], c["path"], c["match"]) for c in TABLE["single_pattern"]] + [
    (c["patterns"], c["path"], c["match"]) for c in TABLE["multi_pattern"]
]


def test_case_count() -> None:
    assert len(CASES) == 72


@pytest.mark.parametrize(("patterns", "path", "match"), CASES, ids=[f"{p}~{path}" for p, path, _ in CASES])
def test_matches_or_parent_matches(patterns: list[str], path: str, match: bool) -> None:
    assert PatternMatcher(patterns).matches_or_parent_matches(path) is match
