"""Which runtime-spec config.json fields imgtool's runtime applies; `create` refuses the rest.

Why refuse instead of ignore: config.md says every property but `process` MUST be applied at
create or the create MUST fail, and a runtime that silently drops a field (a seccomp profile, an
idmapped mount, a device limit) gives the orchestrator a container that is quietly less confined
than it asked for (containerd's task manager says as much about idmap). So every field the spec
defines is either in `SUPPORTED` or in `REFUSED`; a refused field that is set (not null, false, ""
or empty) is an error naming it, before anything is created. Keys the spec does not define are
ignored, as config.md "Extensibility" requires.

Shape of `SUPPORTED`: a dict per JSON object; `LEAF` accepts any value; `[spec]` is an array whose
elements follow `spec`; `MAP` is a free-form string map (annotations, sysctl, unified).
"""

from __future__ import annotations

import os

LEAF = "leaf"
MAP = "map"

_HOOK = [{"path": LEAF, "args": LEAF, "env": LEAF, "timeout": LEAF}]
_RATE = [{"major": LEAF, "minor": LEAF, "rate": LEAF}]
SUPPORTED: dict = {
    "ociVersion": LEAF,
    "root": {"path": LEAF, "readonly": LEAF},
    "mounts": [{"destination": LEAF, "source": LEAF, "type": LEAF, "options": LEAF}],
    "process": {
        "terminal": LEAF, "consoleSize": {"height": LEAF, "width": LEAF}, "cwd": LEAF, "env": LEAF, "args": LEAF,
        "rlimits": [{"type": LEAF, "soft": LEAF, "hard": LEAF}],
        "apparmorProfile": LEAF,
        "capabilities": {k: LEAF for k in ("bounding", "effective", "inheritable", "permitted", "ambient")},
        "noNewPrivileges": LEAF, "oomScoreAdj": LEAF,
        "user": {"uid": LEAF, "gid": LEAF, "umask": LEAF, "additionalGids": LEAF},
    },
    "hostname": LEAF,
    "domainname": LEAF,
    "annotations": MAP,
    "hooks": {k: _HOOK for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                                 "poststop")},
    "linux": {
        "namespaces": [{"type": LEAF, "path": LEAF}],
        "timeOffsets": {k: {"secs": LEAF, "nanosecs": LEAF} for k in ("monotonic", "boottime")},
        "uidMappings": [{"containerID": LEAF, "hostID": LEAF, "size": LEAF}],
        "gidMappings": [{"containerID": LEAF, "hostID": LEAF, "size": LEAF}],
        "devices": [{k: LEAF for k in ("type", "path", "major", "minor", "fileMode", "uid", "gid")}],
        "cgroupsPath": LEAF,
        "resources": {
            "devices": [{k: LEAF for k in ("allow", "type", "major", "minor", "access")}],
            "memory": {k: LEAF for k in ("limit", "reservation", "swap", "swappiness", "disableOOMKiller",
                                         "useHierarchy", "checkBeforeUpdate")},
            "cpu": {k: LEAF for k in ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod",
                                      "cpus", "mems", "idle")},
            "pids": {"limit": LEAF},
            "blockIO": {"weight": LEAF, "throttleReadBpsDevice": _RATE, "throttleWriteBpsDevice": _RATE,
                        "throttleReadIOPSDevice": _RATE, "throttleWriteIOPSDevice": _RATE},
            "unified": MAP,
        },
        "sysctl": MAP,
        "seccomp": {"defaultAction": LEAF, "defaultErrnoRet": LEAF, "architectures": LEAF, "flags": LEAF,
                    "syscalls": [{"names": LEAF, "action": LEAF, "errnoRet": LEAF,
                                  "args": [{"index": LEAF, "value": LEAF, "valueTwo": LEAF, "op": LEAF}]}]},
        "rootfsPropagation": LEAF,
        "maskedPaths": LEAF,
        "readonlyPaths": LEAF,
    },
}

# Fields listed in the spec that imgtool's runtime knows and refuses (kept so a test can check that
# every field the spec defines is either applied or refused on purpose, never forgotten).
REFUSED = frozenset({
    "process.commandLine", "process.selinuxLabel", "process.ioPriority", "process.scheduler",
    "process.execCPUAffinity", "process.user.username", "mounts[].uidMappings", "mounts[].gidMappings",
    "linux.mountLabel", "linux.intelRdt", "linux.personality", "linux.memoryPolicy",
    "linux.netDevices", "linux.resources.memory.kernel", "linux.resources.memory.kernelTCP",
    "linux.resources.blockIO.leafWeight", "linux.resources.blockIO.weightDevice",
    "linux.resources.hugepageLimits", "linux.resources.network", "linux.resources.rdma",
    "linux.seccomp.listenerPath", "linux.seccomp.listenerMetadata", "solaris", "windows", "vm", "zos",
})


class Unsupported(Exception):
    """A config.json field imgtool's runtime cannot apply (message names the field)."""


def _is_set(value: object) -> bool:
    return value is not None and value is not False and value != "" and value != [] and value != {}


def _walk(value: object, spec: object, path: str, generic: str) -> None:
    if spec == LEAF or not _is_set(value):
        return
    if spec == MAP:
        if not isinstance(value, dict):
            raise Unsupported(f"{path} must be an object")
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise Unsupported(f"{path} must be an array")
        for i, item in enumerate(value):
            _walk(item, spec[0], f"{path}[{i}]", generic + "[]")
        return
    if not isinstance(value, dict):
        raise Unsupported(f"{path} must be an object")
    for key, sub in value.items():
        where, what = (f"{path}.{key}", f"{generic}.{key}") if path else (key, key)
        if key in spec:
            _walk(sub, spec[key], where, what)
        elif what in REFUSED and _is_set(sub):
            raise Unsupported(f"{where} is not supported by imgtool's runtime")
        # any other key is not a runtime-spec property: config.md "Extensibility" says ignore it


def check(spec: dict) -> None:
    """Raise Unsupported naming the first field (in document order) imgtool cannot apply."""
    if not isinstance(spec, dict):
        raise Unsupported("config.json must hold a JSON object")
    _walk(spec, SUPPORTED, "", "")
    process = spec.get("process") or {}
    if process.get("apparmorProfile") and not apparmor_enabled():
        raise Unsupported("process.apparmorProfile: AppArmor is not enabled on this host")


def apparmor_enabled() -> bool:
    """Whether the kernel has AppArmor loaded and enabled (as runc's apparmor.IsEnabled)."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().startswith("Y") and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        return False
