"""The secret scan of an image: every regular file of every layer as it streams by, the config's Env,
Labels, Entrypoint and Cmd, and every history `created_by` (build args of `RUN |N K=V`, ARG, ENV).

Findings from layers get their status from the replay once the last layer is read: a secret in a
file that a later layer deleted still ships, and is reported as `deleted` with the layer that hid it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import content
from .filters import allowlisted_path, entropy
from .generic import assignment
from .match import COMMAND, ENV, FILE, HISTORY, LABEL, Match, Where
from .replay import LayerChanges
from .rules import detect, resolve
from .source import ImageSource
from .tokens import verified

MAX_FILE = 10 << 20


@dataclass
class Finding:
    """One occurrence of a secret: what, where, and whether the final image still shows it."""

    match: Match
    source: str                      # layer | config | history
    path: str | None = None          # absolute, for layer findings
    line: int | None = None
    column: int | None = None
    layer_index: int | None = None
    history_index: int | None = None
    config_field: str | None = None
    status: str = "n/a"
    removed_in_layer: int | None = None
    suppressed: bool = False
    suppression_reason: str | None = None
    member: str | None = None        # the path inside an archive file (`a.tar!/b` when nested)

    @property
    def secret_sha256(self) -> str:
        """Lets a reader match ground truth without the secret being printed."""
        return hashlib.sha256(self.match.secret.encode("utf-8", "surrogateescape")).hexdigest()

    @property
    def fingerprint(self) -> str:
        """sha256(rule_id:secret): one value for every copy of the same secret."""
        return hashlib.sha256(f"{self.match.rule_id}:{self.match.secret}".encode("utf-8", "surrogateescape")).hexdigest()

    @property
    def entropy(self) -> float:
        """Shannon entropy of the secret (bits per character)."""
        return round(entropy(self.match.secret), 3)


@dataclass
class ScanStats:
    """What the scan read and what it skipped."""

    files: int = 0
    bytes: int = 0
    binary_skipped: int = 0
    large_skipped: int = 0


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, pos) + 1
    return text.count("\n", 0, pos) + 1, pos - line_start + 1


@dataclass
class LayerScanner:
    """The walk's file hook: scans each regular file's content (text, archive members, binary key
    containers, binaries' strings; see content.py)."""

    max_file: int = MAX_FILE
    findings: list[Finding] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    def __call__(self, layer: int, path: str, size: int, read: Callable[[int], bytes]) -> None:
        """Scan one file of `layer` (called by walk.walk while the layer streams)."""
        if size > self.max_file:
            self.stats.large_skipped += 1
            return
        data = read(size)
        self.stats.files += 1
        self.stats.bytes += len(data)
        if b"\0" in data[:content.PROBE]:
            self.stats.binary_skipped += 1
        for piece in content.pieces(path, data, self.max_file):
            if piece.key is not None:
                info = piece.key
                m = Match("private-key", "private-key", "medium" if info.encrypted else "critical", 0, len(piece.data),
                          piece.data.hex(), info.kind.upper(), info.confidence, 80)
                self.findings.append(Finding(m, "layer", "/" + path, None, None, layer, member=piece.member))
                continue
            for m in detect(piece.text or "", piece.where):
                line, column = (None, None) if piece.binary else _line_col(piece.text or "", m.line_pos)
                self.findings.append(Finding(m, "layer", "/" + path, line, column, layer, member=piece.member))


def apply_status(findings: list[Finding], changes: list[LayerChanges]) -> None:
    """Give each layer finding its file version's status and the layer that hid it."""
    versions = {(c.index, v.path): v for c in changes for v in c.versions}
    for f in findings:
        if f.source != "layer" or f.path is None or f.layer_index is None:
            continue
        v = versions.get((f.layer_index, f.path[1:]))
        if v is not None:
            f.status, f.removed_in_layer = v.status, v.removed_in


_BUILD_ARGS = re.compile(r"^(?:\S+ -c #\(nop\) )?(?:RUN )?\|([0-9]+) ")
_INSTRUCTION = re.compile(r"^(?:/bin/sh -c #\(nop\)\s+|\S+ -c #\(nop\)\s+)?(ARG|ENV|LABEL)\s+(.*)$", re.S)
_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S*)")


def _pairs(created_by: str) -> Iterator[tuple[str, str, int]]:
    """(key, value, offset of value) for the build args and ARG/ENV/LABEL values a history line records."""
    m = _BUILD_ARGS.match(created_by)
    if m:
        pos = m.end()
        for _ in range(int(m.group(1))):
            pm = _PAIR.match(created_by, pos)
            if not pm:
                break
            yield pm.group(1), pm.group(2), pm.start(2)
            pos = pm.end() + 1
    m = _INSTRUCTION.match(created_by)
    if m:
        body_at = m.start(2)
        pairs = list(_PAIR.finditer(m.group(2)))
        if pairs:
            for pm in pairs:
                value = pm.group(2)
                quoted = value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1
                yield pm.group(1), value[1:-1] if quoted else value, body_at + pm.start(2) + (1 if quoted else 0)
        elif m.group(1) == "ENV":   # legacy `ENV KEY value with spaces`
            key, _, value = m.group(2).partition(" ")
            yield key, value.strip(), body_at + len(key) + 1 + (len(value) - len(value.lstrip()))


def _metadata_matches(text: str, where: Where, pairs: Iterator[tuple[str, str, int]]) -> list[Match]:
    found = detect(text, where)
    for key, value, offset in pairs:
        found.extend(assignment(key, value, offset))
    return resolve(found)


def scan_metadata(image: ImageSource) -> list[Finding]:
    """Secrets in the config (Env, Labels, Entrypoint, Cmd) and in every history line."""
    out: list[Finding] = []
    cfg = image.config.config
    for i, item in enumerate(cfg.env or ()):
        key, _, value = item.partition("=")
        where = Where(ENV, field=f"Env[{i}]")
        for m in _metadata_matches(item, where, iter([(key, value, len(key) + 1)])):
            out.append(Finding(m, "config", config_field=where.field))
    for key, value in sorted((cfg.labels or {}).items()):
        text = f"{key}={value}"
        where = Where(LABEL, field=f"Labels.{key}")
        for m in _metadata_matches(text, where, iter([(key, value, len(key) + 1)])):
            out.append(Finding(m, "config", config_field=where.field))
    for name, words in (("Entrypoint", cfg.entrypoint), ("Cmd", cfg.cmd)):
        if words:
            for m in detect(" ".join(words), Where(COMMAND, field=name)):
                out.append(Finding(m, "config", config_field=name))
    layer = 0
    for i, entry in enumerate(image.config.history):
        layer_index = None if entry.empty_layer else layer
        layer += 0 if entry.empty_layer else 1
        text = entry.created_by or ""
        where = Where(HISTORY, field=f"history[{i}].created_by")
        for m in _metadata_matches(text, where, _pairs(text)):
            out.append(Finding(m, "history", layer_index=layer_index, history_index=i, config_field=where.field))
    return out


@dataclass(frozen=True)
class Allowlist:
    """What the user says is not a leak: rule ids, path globs, secret or fingerprint hashes."""

    rules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    hashes: tuple[str, ...] = ()


def suppress(findings: list[Finding], allow: Allowlist) -> None:
    """Mark documented examples, vendored/test/doc paths and user-allowlisted findings as suppressed."""
    import fnmatch

    for f in findings:
        reason = None
        if f.match.rule_id in allow.rules:
            reason = f"rule {f.match.rule_id} allowlisted"
        elif f.path and any(fnmatch.fnmatch(f.path, g) or fnmatch.fnmatch(f.path[1:], g) for g in allow.paths):
            reason = "path allowlisted"
        elif f.secret_sha256 in allow.hashes or f.fingerprint in allow.hashes:
            reason = "hash allowlisted"
        elif f.match.example:
            reason = "documented example value"
        elif f.path and (why := allowlisted_path(f.path[1:], verified(f.match.secret))
                         or (f.member and allowlisted_path(f.member, verified(f.match.secret)))):
            reason = why
        f.suppressed, f.suppression_reason = reason is not None, reason


def order(findings: list[Finding]) -> list[Finding]:
    """Deterministic output order: layers first by index, then config, then history."""
    rank = {"layer": 0, "config": 1, "history": 2}
    return sorted(findings, key=lambda f: (rank[f.source], f.layer_index if f.layer_index is not None else -1,
                                           f.history_index if f.history_index is not None else -1,
                                           f.path or "", f.config_field or "", f.line or 0, f.column or 0,
                                           f.match.rule_id))
