"""The one-line layer and secret summary `imgtool build` ends with, and its `--fail-on-secrets` verdict."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from .analysis import analyze
from .docker import human_size
from .scan import Allowlist, Finding, order, suppress
from .source import open_source
from .waste import exact_waste


@dataclass(frozen=True)
class Summary:
    """The line to print and the unsuppressed findings behind it."""

    line: str
    findings: tuple[Finding, ...]


def summarize(ref: str) -> Summary:
    """Scan the image `ref` names once: sizes, shipped-but-invisible bytes, secrets by status."""
    with contextlib.closing(open_source(ref)) as source:
        result = analyze(source, secrets=True)
    suppress(result.findings, Allowlist())
    findings = tuple(f for f in order(result.findings) if not f.suppressed)
    waste = exact_waste(result.changes)
    statuses: dict[str, int] = {}
    for f in findings:
        statuses[f.status] = statuses.get(f.status, 0) + 1
    secrets = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) if findings else "none"
    line = (f"{len(result.changes)} layers, {human_size(waste.total_bytes)}; "
            f"{human_size(waste.wasted_bytes)} shipped but invisible ({human_size(waste.deleted_bytes)} deleted, "
            f"{human_size(waste.overwritten_bytes)} overwritten); secrets: {len(findings)}"
            + (f" ({secrets})" if findings else ""))
    return Summary(line, findings)


def describe(f: Finding) -> str:
    """Where a finding is, in a few words, for the build's failure message."""
    if f.source == "layer":
        return f"{f.match.rule_id} in {f.path} (layer {f.layer_index}, {f.status})"
    return f"{f.match.rule_id} in {f.config_field}"
