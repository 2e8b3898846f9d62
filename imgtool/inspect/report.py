"""The secrets report: JSON (research/inspect.md §4.5 fields), SARIF 2.1.0 and a table.

Nothing printed contains a whole secret unless --show-secrets: a match keeps its recognised prefix
and at most four more characters, and history lines quoted in findings are redacted too.
"""

from __future__ import annotations

import json
from typing import Any

from .scan import Finding, ScanStats
from .source import ImageSource

_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def redact(secret: str, prefix: str = "") -> str:
    """prefix + up to 4 characters + a mask (length capped), never the whole secret."""
    if prefix and secret.startswith(prefix):
        rest = secret[len(prefix):]
    else:
        prefix, rest = "", secret
    shown = 4 if len(rest) >= 16 else (2 if len(rest) >= 10 else 0)
    if prefix.startswith("-----BEGIN") or prefix in ("DER",) or prefix.endswith(":"):
        shown = 0
    return prefix + rest[:shown] + "*" * min(max(len(rest) - shown, 4), 16)


def _scrub(text: str, secrets: list[tuple[str, str]]) -> str:
    for secret, prefix in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, redact(secret, prefix))
    return text


def _secrets(findings: list[Finding]) -> list[tuple[str, str]]:
    """(secret, prefix) of every finding, longest first (so a secret inside another is not half-masked)."""
    return sorted({(f.match.secret, f.match.prefix) for f in findings}, key=lambda s: -len(s[0]))


def scrub(text: str, findings: list[Finding]) -> str:
    """`text` with every found secret redacted (history lines printed next to findings)."""
    return _scrub(text, _secrets(findings))


def finding_dict(f: Finding, image: ImageSource, show: bool, secrets: list[tuple[str, str]]) -> dict[str, Any]:
    """One finding as JSON."""
    created_by = None
    if f.layer_index is not None:
        layer_history = [h for h in image.config.history if not h.empty_layer]
        if f.layer_index < len(layer_history):
            created_by = layer_history[f.layer_index].created_by or ""
    diff_ids = image.config.diff_ids
    m = f.match
    out = {
        "fingerprint": f.fingerprint, "rule_id": m.rule_id, "category": m.category, "severity": m.severity,
        "confidence": m.confidence, "source": f.source, "layer_index": f.layer_index,
        "layer_diff_id": str(diff_ids[f.layer_index]) if f.layer_index is not None and f.layer_index < len(diff_ids) else None,
        "layer_created_by": created_by if show or created_by is None else _scrub(created_by, secrets),
        "history_index": f.history_index, "path": f.path, "line": f.line, "column": f.column,
        "match_redacted": redact(m.secret, m.prefix), "secret_sha256": f.secret_sha256, "entropy": f.entropy,
        "status": f.status, "removed_in_layer": f.removed_in_layer, "example_key": m.example,
        "suppressed": f.suppressed, "suppression_reason": f.suppression_reason, "config_field": f.config_field,
        "archive_member": f.member,
    }
    if show:
        out["secret"] = m.secret
    return out


def to_dict(image: ImageSource, findings: list[Finding], stats: ScanStats, show: bool = False,
            show_suppressed: bool = False) -> dict[str, Any]:
    """The JSON document: findings (suppressed ones only with show_suppressed) and a summary."""
    secrets = _secrets(findings)
    shown = [f for f in findings if show_suppressed or not f.suppressed]
    by_status: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for f in findings:
        if not f.suppressed:
            by_status[f.status] = by_status.get(f.status, 0) + 1
            by_severity[f.match.severity] = by_severity.get(f.match.severity, 0) + 1
    return {
        "image": image.name, "id": image.id,
        "findings": [finding_dict(f, image, show, secrets) for f in shown],
        "summary": {
            "findings": sum(1 for f in findings if not f.suppressed),
            "secrets": len({f.fingerprint for f in findings if not f.suppressed}),
            "suppressed": sum(1 for f in findings if f.suppressed),
            "by_status": dict(sorted(by_status.items())), "by_severity": dict(sorted(by_severity.items())),
            "files_scanned": stats.files, "bytes_scanned": stats.bytes,
            "binary_skipped": stats.binary_skipped, "large_skipped": stats.large_skipped,
            "layers": len(image.layers),
        },
    }


def at_least(findings: list[Finding], severity: str) -> bool:
    """True if an unsuppressed finding is at `severity` or above (--fail-on)."""
    rank = _SEVERITY_RANK[severity]
    return any(not f.suppressed and _SEVERITY_RANK[f.match.severity] >= rank for f in findings)


def _where(d: dict[str, Any]) -> str:
    if d["source"] == "layer":
        member = f"!/{d['archive_member']}" if d.get("archive_member") else ""
        return f"layer {d['layer_index']}: {d['path']}{member}" + (f":{d['line']}" if d["line"] else "")
    if d["source"] == "history":
        return f"history[{d['history_index']}]" + (f" (layer {d['layer_index']})" if d["layer_index"] is not None else "")
    return f"config {d['config_field']}"


def _status(d: dict[str, Any]) -> str:
    if d["status"] in ("deleted", "deleted-opaque", "overwritten"):
        return f"{d['status'].upper()} in layer {d['removed_in_layer']}, still shipped in layer {d['layer_index']}"
    return d["status"]


def render_table(doc: dict[str, Any]) -> str:
    """Findings grouped by fingerprint, the status shown first, then a summary line."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for d in doc["findings"]:
        groups.setdefault(d["fingerprint"], []).append(d)
    lines = []
    for fp, items in groups.items():
        head = items[0]
        lines.append(f"{head['severity'].upper():8} {head['rule_id']}  {head['match_redacted']}  (sha256 {head['secret_sha256'][:12]})"
                     + ("  [suppressed: " + head["suppression_reason"] + "]" if head["suppressed"] else ""))
        for d in items:
            lines.append(f"    {_status(d):60}  {_where(d)}")
    s = doc["summary"]
    if not groups:
        lines.append("no secrets found")
    lines.append(f"{s['findings']} findings ({s['secrets']} distinct secrets), {s['suppressed']} suppressed; "
                 f"{s['files_scanned']} files scanned in {s['layers']} layers, {s['binary_skipped']} binary and "
                 f"{s['large_skipped']} large files skipped")
    return "\n".join(lines)


def to_sarif(doc: dict[str, Any], version: str) -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning UIs: one result per occurrence, the layer and status as properties."""
    rules = sorted({d["rule_id"] for d in doc["findings"]})
    results = []
    for d in doc["findings"]:
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": (d["path"] or "").lstrip("/") or
                                                                               (d["config_field"] or "config")}}}
        if d["line"]:
            location["physicalLocation"]["region"] = {"startLine": d["line"], "startColumn": d["column"] or 1}
        results.append({
            "ruleId": d["rule_id"], "level": _SARIF_LEVEL[d["severity"]],
            "message": {"text": f"{d['rule_id']} {d['match_redacted']} ({_status(d)}) at {_where(d)}"},
            "locations": [location],
            "partialFingerprints": {"secretSha256": d["secret_sha256"], "fingerprint": d["fingerprint"]},
            "properties": {k: d[k] for k in ("source", "layer_index", "layer_diff_id", "status", "removed_in_layer",
                                             "history_index", "config_field", "example_key", "suppressed",
                                             "archive_member")},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "imgtool", "version": version,
                                      "rules": [{"id": r, "shortDescription": {"text": r}} for r in rules]}},
                  "results": results}],
    }


def dumps(doc: dict[str, Any]) -> str:
    """Stable JSON text."""
    return json.dumps(doc, indent=2, ensure_ascii=False)
