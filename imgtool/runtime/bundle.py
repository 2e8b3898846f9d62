"""config.json from an image config (image-spec conversion.md) plus runc/docker defaults.

One function builds the spec for every consumer: `imgtool unpack` writes it into a bundle that runc
and crun run unchanged, and `imgtool run` / the builder hand the same dict to imgtool's own init with
their overrides applied. Defaults follow runc's `spec` and docker: masked and read-only paths,
docker's capability set (with --cap-add/--cap-drop) and its default seccomp profile for those
capabilities (`seccomp_profile.py`), no_new_privs, RLIMIT_NOFILE soft and hard at the caller's hard limit (what
a container under dockerd, and a RUN under BuildKit, inherits: `ulimit -n` is not 1024).
"""

from __future__ import annotations

import json
import os
import posixpath
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgtool.atomicfile import write_bytes
from imgtool.oci.config import ImageConfig

from . import capabilities, seccomp_profile, users
from .cgroups import Resources
from .mounts import standard_mounts

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass
class Overrides:
    """What the caller changes on top of the image (docker run's flags); None keeps the image's."""

    args: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    terminal: bool = False
    read_only: bool = False
    network: str = "host"  # "host": share the host's network; "none": own namespace, loopback only
    volumes: list[tuple[str, str, bool]] = field(default_factory=list)  # (host dir, container dir, ro)
    resources: Resources = field(default_factory=Resources)
    cgroups_path: str | None = None
    cap_add: list[str] = field(default_factory=list)  # docker's names: SYS_ADMIN, CAP_SYS_ADMIN, ALL
    cap_drop: list[str] = field(default_factory=list)
    # "default": docker's default profile for the container's capabilities; "unconfined": none;
    # or a profile (docker's format or runtime-spec's) from --security-opt seccomp=FILE
    seccomp: str | dict[str, Any] = "default"


def user_spec(image: ImageConfig, ov: Overrides) -> str:
    """The USER to resolve: the caller's, else the image's, else root."""
    return (ov.user if ov.user is not None else image.config.user) or "0"


def _nofile() -> dict[str, Any]:
    """docker's containers get dockerd's limits, which Go raises to the hard limit at start (and
    BuildKit's RUN the same); podman gives the hard limit too. Node and npm open many files."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"type": "RLIMIT_NOFILE", "soft": hard, "hard": hard}


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    """Later entries replace earlier ones with the same name, keeping first-seen order."""
    out: dict[str, str] = {}
    for item in [*base, *extra]:
        key = item.partition("=")[0]
        if not key:
            raise users.UserError(f"invalid environment variable {item!r}")
        out[key] = item
    return list(out.values())


def _annotations(image: ImageConfig) -> dict[str, str]:
    out = {"org.opencontainers.image.os": image.os, "org.opencontainers.image.architecture": image.architecture}
    for key, value in (("variant", image.variant), ("os.version", image.os_version), ("author", image.author),
                       ("created", image.created), ("stopSignal", image.config.stop_signal)):
        if value:
            out[f"org.opencontainers.image.{key}"] = value
    if image.os_features:
        out["org.opencontainers.image.os.features"] = ",".join(image.os_features)
    if image.config.exposed_ports:
        out["org.opencontainers.image.exposedPorts"] = ",".join(sorted(image.config.exposed_ports))
    out.update(image.config.labels or {})  # labels win (conversion.md "Annotations")
    return out


def _mounts(image: ImageConfig, ov: Overrides) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        *standard_mounts(),
    ]
    for volume in sorted(image.config.volumes or {}):
        # conversion.md: volume data should not end up in the rootfs; umoci makes them tmpfs too.
        # The destination is cleaned and resolved in-root at mount time (CVE-2022-23648, test R7).
        mounts.append({"destination": "/" + posixpath.normpath("/" + volume).lstrip("/"), "type": "tmpfs",
                       "source": "tmpfs", "options": ["rw", "nosuid", "nodev", "noexec", "relatime"]})
    for host, dest, ro in ov.volumes:
        mounts.append({"destination": dest, "type": "bind", "source": os.path.abspath(host),
                       "options": ["rbind", "ro" if ro else "rw"]})
    return mounts


def _resources(res: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    memory = {k: v for k, v in (("limit", res.memory), ("swap", res.memory_swap),
                                ("reservation", res.memory_reservation)) if v is not None}
    cpu = {k: v for k, v in (("shares", res.cpu_shares), ("quota", res.cpu_quota), ("period", res.cpu_period),
                             ("cpus", res.cpuset_cpus)) if v is not None}
    if memory:
        out["memory"] = memory
    if cpu:
        out["cpu"] = cpu
    if res.pids is not None:
        out["pids"] = {"limit": res.pids}
    if res.unified:
        out["unified"] = dict(res.unified)
    return out


def runtime_config(image: ImageConfig, rootfs: str | Path | None, ov: Overrides | None = None,
                   root_path: str = "rootfs") -> dict[str, Any]:
    """The OCI runtime config for running `image` with `ov` applied; users are resolved in `rootfs`.

    With `rootfs=None` (the rootfs is an overlay only the init mounts) the user is left as root and
    HOME unset; the init resolves `user_spec(...)` in the mounted rootfs and fixes both.
    """
    ov = ov or Overrides()
    if image.os != "linux":
        raise users.UserError(f"cannot run a {image.os!r} image on linux")
    cfg = image.config
    entrypoint = list(cfg.entrypoint or ()) if ov.entrypoint is None else ov.entrypoint
    cmd = list(cfg.cmd or ()) if ov.args is None else ov.args
    if ov.entrypoint is not None and ov.args is None:
        cmd = []  # docker: --entrypoint resets the image's CMD
    args = entrypoint + cmd or ["sh"]
    user = users.lookup(rootfs, user_spec(image, ov)) if rootfs is not None else users.ExecUser(0, 0, home="")
    env = _merge_env([DEFAULT_PATH, *(["TERM=xterm"] if ov.terminal else [])], list(cfg.env or ()))
    env = _merge_env(env, ov.env)
    if user.home and not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    if ov.hostname and not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={ov.hostname}")
    caps = capabilities.docker_set(ov.cap_add, ov.cap_drop)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if ov.network != "host":
        namespaces.append({"type": "network"})
    process_user: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
    if user.additional_gids:
        process_user["additionalGids"] = list(user.additional_gids)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": ov.terminal, "user": process_user, "args": args, "env": env,
            "cwd": ov.workdir or cfg.working_dir or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [_nofile()], "noNewPrivileges": True,
        },
        "root": {"path": root_path, "readonly": ov.read_only},
        "hostname": ov.hostname or "imgtool",
        "mounts": _mounts(image, ov),
        "annotations": _annotations(image),
        "linux": {
            "resources": _resources(ov.resources),
            "namespaces": namespaces,
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if ov.cgroups_path:
        spec["linux"]["cgroupsPath"] = ov.cgroups_path
    if ov.seccomp != "unconfined":
        profile = seccomp_profile.DEFAULT if ov.seccomp == "default" else ov.seccomp
        spec["linux"]["seccomp"] = seccomp_profile.resolve(profile, caps)
    return spec


def write_config(spec: dict[str, Any], bundle: Path) -> None:
    """Write config.json (atomically: a crash never leaves half a config)."""
    write_bytes(bundle / "config.json", (json.dumps(spec, indent=2) + "\n").encode(), durable=False)
