"""One streaming pass over an image feeds every view: the replay (sizes, waste) and the secret scan."""

from __future__ import annotations

from dataclasses import dataclass, field

from .replay import LayerChanges, replay
from .scan import MAX_FILE, Finding, LayerScanner, ScanStats, apply_status, scan_metadata
from .source import ImageSource
from .walk import LayerMembers, walk


@dataclass
class Analysis:
    """What the pass found: members per layer, their replayed changes, and (if scanned) findings."""

    source: ImageSource
    members: list[LayerMembers]
    changes: list[LayerChanges]
    findings: list[Finding] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    @property
    def layer_sizes(self) -> list[int]:
        """Content bytes per layer (docker's history SIZE)."""
        return [c.size for c in self.changes]


def analyze(source: ImageSource, secrets: bool = False, max_file: int = MAX_FILE) -> Analysis:
    """Read every layer once; with `secrets`, scan file contents and the config/history as well."""
    scanner = LayerScanner(max_file) if secrets else None
    members = list(walk(source, scanner))
    changes = replay(members)
    result = Analysis(source, members, changes)
    if scanner is not None:
        result.findings = scanner.findings + scan_metadata(source)
        result.stats = scanner.stats
        apply_status(result.findings, changes)
    return result
