"""The `inspect --layers` report: per layer what made it, what it changed, and what of it is invisible.

Built as plain data (the JSON form) from one streaming pass; `render_table` is its text form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import waste as wastemod
from .docker import human_size
from .replay import LayerChanges
from .source import ImageSource
from .walk import DIR, LayerMembers


@dataclass(frozen=True)
class LayerReport:
    """Everything `--layers` prints, for one image."""

    image: ImageSource
    members: list[LayerMembers]
    changes: list[LayerChanges]
    waste: wastemod.Waste
    dive: wastemod.DiveFigures


def history_lines(image: ImageSource) -> list[tuple[int | None, str]]:
    """(history index, created_by) per layer, by skipping empty_layer entries as docker and dive do;
    a layer with no entry left gets (None, "(missing)")."""
    entries = [(i, h.created_by or "") for i, h in enumerate(image.config.history) if not h.empty_layer]
    return [entries[i] if i < len(entries) else (None, "(missing)") for i in range(len(image.layers))]


def build(image: ImageSource, members: list[LayerMembers], changes: list[LayerChanges]) -> LayerReport:
    """Derive the exact and the dive-compatible figures from one pass's members and replay."""
    return LayerReport(image, members, changes, wastemod.exact_waste(changes), wastemod.dive_figures(members))


def to_dict(report: LayerReport, files: int | None = None, top: int = 20) -> dict[str, Any]:
    """The JSON form (sizes in bytes)."""
    lines = history_lines(report.image)
    layers = []
    for layer, descriptor, (hist_index, created_by) in zip(report.changes, report.image.layers, lines):
        deleted, overwritten = wastemod.hidden_in_layer(layer)
        entry: dict[str, Any] = {
            "index": layer.index, "digest": str(descriptor.digest),
            "diff_id": str(report.image.config.diff_ids[layer.index]),
            "history_index": hist_index, "created_by": created_by,
            "compressed_size": layer.compressed_size, "uncompressed_size": layer.tar_size,
            "size": layer.size,
            "files_added": layer.count("A"), "files_modified": layer.count("M"),
            "files_deleted": len(layer.deleted_paths),
            "invisible_deleted_bytes": deleted, "invisible_overwritten_bytes": overwritten,
            "hides_bytes": sum(v.size for v in layer.removed if v.kind != DIR),
        }
        if files is not None and files == layer.index:
            entry["files"] = layer_files(layer)
        layers.append(entry)
    w, d = report.waste, report.dive
    return {
        "image": report.image.name, "id": report.image.id, "layers": layers,
        "total_bytes": w.total_bytes, "visible_bytes": w.visible_bytes, "wasted_bytes": w.wasted_bytes,
        "deleted_bytes": w.deleted_bytes, "overwritten_bytes": w.overwritten_bytes,
        "wasted_paths": [{"path": p.path, "copies": p.copies, "bytes": p.size, "layers": list(p.layers),
                          "statuses": list(p.statuses)} for p in w.paths[:top]],
        "dive": {"size_bytes": d.size_bytes, "user_size_bytes": d.user_size_bytes, "efficiency": d.efficiency,
                 "wasted_bytes": d.wasted_bytes, "user_wasted_percent": d.user_wasted_percent,
                 "inefficient_files": [{"count": c, "bytes": b, "path": p} for c, b, p in d.inefficient[:top]]},
    }


def layer_files(layer: LayerChanges) -> list[dict[str, Any]]:
    """A layer's changes: A/M per path it ships (with its final status), D per path it deletes."""
    out = [{"change": v.change, "path": "/" + v.path, "kind": v.kind, "size": v.size, "status": v.status,
            "removed_in_layer": v.removed_in} for v in layer.versions]
    out += [{"change": "D", "path": "/" + p, "kind": "whiteout", "size": 0, "status": None, "removed_in_layer": None}
            for p in layer.deleted_paths]
    return sorted(out, key=lambda f: f["path"])


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def render_table(data: dict[str, Any], top: int = 10) -> str:
    """The text form: a layer table, the waste summary, dive's figures, then the biggest wasted paths."""
    rows = [["#", "DIGEST", "SIZE", "COMPRESSED", "+ADD", "~MOD", "-DEL", "INVISIBLE(DEL/OVR)", "CREATED BY"]]
    for layer in data["layers"]:
        created_by = layer["created_by"].replace("\n", " ")
        rows.append([str(layer["index"]), layer["digest"].removeprefix("sha256:")[:12], human_size(layer["size"]),
                     human_size(layer["compressed_size"]), str(layer["files_added"]), str(layer["files_modified"]),
                     str(layer["files_deleted"]),
                     f"{human_size(layer['invisible_deleted_bytes'])}/{human_size(layer['invisible_overwritten_bytes'])}",
                     created_by if len(created_by) <= 60 else created_by[:59] + "…"])
    lines = _table(rows)
    total = data["total_bytes"]
    lines += ["", f"total {human_size(total)} ({total} bytes) shipped; visible {human_size(data['visible_bytes'])}; "
              f"invisible {human_size(data['wasted_bytes'])} = deleted {human_size(data['deleted_bytes'])} "
              f"+ overwritten {human_size(data['overwritten_bytes'])}"]
    d = data["dive"]
    lines.append(f"dive: efficiency {d['efficiency'] * 100:.4f}%, wasted {human_size(d['wasted_bytes'])} "
                 f"({d['wasted_bytes']} bytes), user wasted {d['user_wasted_percent'] * 100:.4f}%")
    if data["wasted_paths"]:
        lines += ["", *_table([["COPIES", "BYTES", "PATH", "LAYERS (STATUS)"]] + [
            [str(p["copies"]), str(p["bytes"]), p["path"],
             ", ".join(f"{layer} ({status})" for layer, status in zip(p["layers"], p["statuses"]))]
            for p in data["wasted_paths"][:top]])]
    for layer in data["layers"]:
        if "files" in layer:
            lines += ["", f"layer {layer['index']} changes:"]
            lines += _table([["", "SIZE", "PATH", "STATUS"]] + [
                [f["change"], str(f["size"]), f["path"],
                 "" if f["status"] is None else f["status"] + (f" in layer {f['removed_in_layer']}" if f["removed_in_layer"] is not None else "")]
                for f in layer["files"]])
    return "\n".join(lines)
