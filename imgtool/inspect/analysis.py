"""One streaming pass over an image feeds every view: the replay (sizes, waste) and the secret scan."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .replay import LayerChanges, replay
from .scan import MAX_FILE, Finding, LayerScanner, ScanStats, apply_status, scan_metadata
from .source import ImageSource
from .walk import HARDLINK, LayerMembers, walk


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
        result.findings = scanner.findings + _through_hardlinks(members, scanner.findings) + scan_metadata(source)
        result.stats = scanner.stats
        apply_status(result.findings, changes)
    return result


def _through_hardlinks(members: list[LayerMembers], findings: list[Finding]) -> list[Finding]:
    """A hardlink carries its target's content (tar stores it once): the link's path holds the same
    secrets, with its own status."""
    by_file: dict[tuple[int, str], list[Finding]] = {}
    for f in findings:
        by_file.setdefault((f.layer_index, f.path), []).append(f)  # type: ignore[arg-type]
    out = []
    for layer in members:
        for m in layer.members:
            if m.kind == HARDLINK:
                for f in by_file.get((layer.index, "/" + m.linkname), ()):
                    out.append(dataclasses.replace(f, path="/" + m.path))
    return out
