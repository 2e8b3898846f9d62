"""`docker image inspect` and `docker history` views of an image, key for key as docker 20.10 prints them.

Fields docker fills from its own engine state (GraphDriver, Metadata) are present with their types
and neutral values, so programs that parse docker's JSON parse ours.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from imgtool.oci.config import ContainerConfig

from .source import ImageSource
from .units import human_duration, human_size

_ZERO_TIME = "0001-01-01T00:00:00Z"


def container_config(config: ContainerConfig | dict[str, Any] | None) -> dict[str, Any]:
    """docker's container.Config JSON: always-present keys in docker's order, omitempty ones only when set."""
    d = config.to_dict() if isinstance(config, ContainerConfig) else dict(config or {})
    out: dict[str, Any] = {
        "Hostname": d.get("Hostname", ""), "Domainname": d.get("Domainname", ""), "User": d.get("User", ""),
        "AttachStdin": bool(d.get("AttachStdin")), "AttachStdout": bool(d.get("AttachStdout")),
        "AttachStderr": bool(d.get("AttachStderr")),
    }
    if d.get("ExposedPorts"):
        out["ExposedPorts"] = d["ExposedPorts"]
    out.update({"Tty": bool(d.get("Tty")), "OpenStdin": bool(d.get("OpenStdin")),
                "StdinOnce": bool(d.get("StdinOnce")), "Env": d.get("Env"), "Cmd": d.get("Cmd")})
    if d.get("Healthcheck"):
        out["Healthcheck"] = d["Healthcheck"]
    if d.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    out.update({"Image": d.get("Image", ""), "Volumes": d.get("Volumes"), "WorkingDir": d.get("WorkingDir", ""),
                "Entrypoint": d.get("Entrypoint")})
    for key in ("NetworkDisabled", "MacAddress"):
        if d.get(key):
            out[key] = d[key]
    out.update({"OnBuild": d.get("OnBuild"), "Labels": d.get("Labels")})
    for key in ("StopSignal", "StopTimeout", "Shell"):
        if d.get(key):
            out[key] = d[key]
    return out


def inspect(source: ImageSource, size: int) -> dict[str, Any]:
    """The object `docker image inspect` prints for this image; `size` is the layers' content bytes."""
    cfg = source.config
    extra = cfg.extra
    comment = extra.get("comment") or ""
    if not comment and cfg.history:
        comment = cfg.history[-1].comment or ""
    out: dict[str, Any] = {
        "Id": source.id,
        "RepoTags": list(source.repo_tags),
        "RepoDigests": list(source.repo_digests),
        "Parent": extra.get("parent", ""),
        "Comment": comment,
        "Created": cfg.created or _ZERO_TIME,
        "Container": extra.get("container", ""),
        "ContainerConfig": container_config(extra.get("container_config")),
        "DockerVersion": extra.get("docker_version", ""),
        "Author": cfg.author or "",
        "Config": container_config(cfg.config),
        "Architecture": cfg.architecture,
    }
    if cfg.variant:
        out["Variant"] = cfg.variant
    out["Os"] = cfg.os
    if cfg.os_version:
        out["OsVersion"] = cfg.os_version
    out.update({
        "Size": size,
        "VirtualSize": size,
        "GraphDriver": {"Data": {}, "Name": "imgtool"},
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]},
        "Metadata": {"LastTagTime": _ZERO_TIME},
    })
    return out


def _parse_time(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        trimmed = text.split(".")[0].rstrip("Z")   # RFC 3339 nanoseconds do not fit fromisoformat
        try:
            return _dt.datetime.fromisoformat(trimmed).replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            return None


def history(source: ImageSource, layer_sizes: list[int], human: bool = True, no_trunc: bool = False,
            now: _dt.datetime | None = None) -> list[dict[str, str]]:
    """docker history's rows, newest first: ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    sizes = iter(layer_sizes)
    rows = []
    for entry in source.config.history:
        size = 0 if entry.empty_layer else next(sizes, 0)
        created = _parse_time(entry.created)
        created_by = (entry.created_by or "").replace("\t", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({
            "Comment": entry.comment or "",
            "CreatedAt": (created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else "") if human else (entry.created or ""),
            "CreatedBy": created_by,
            "CreatedSince": (human_duration((now - created).total_seconds()) + " ago") if created else "N/A",
            "ID": "<missing>",
            "Size": human_size(size) if human else str(size),
        })
    rows.reverse()
    if rows:
        rows[0]["ID"] = source.id if no_trunc else source.id.removeprefix("sha256:")[:12]
    return rows
