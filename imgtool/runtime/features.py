"""`features` (runtime-spec features.md) and `spec` (runc's starter config.json).

Why only what is implemented: containerd and CRI-O turn on user namespaces, idmapped and
recursive read-only mounts from this document, and a runtime that advertises what it silently
drops gives them weaker containers than they asked for. So the lists come from the code that
applies them (mount options, namespaces, capabilities, seccomp tables, hooks).
"""

from __future__ import annotations

from imgtool import __version__

from . import capabilities, seccomp
from .mounts import MOUNT_OPTIONS, standard_mounts
from .namespaces import FLAGS
from .speccheck import apparmor_enabled


def document() -> dict:
    """The features JSON: ociVersionMin/Max (required), then what imgtool's runtime applies."""
    libseccomp = seccomp.version()
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted(MOUNT_OPTIONS),
        "linux": {
            "namespaces": sorted(FLAGS),
            "capabilities": list(capabilities.NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": {"enabled": bool(libseccomp), "actions": list(seccomp.ACTIONS),
                        "operators": list(seccomp.OPERATORS), "archs": list(seccomp.ARCHES),
                        "knownFlags": list(seccomp.FLAGS), "supportedFlags": list(seccomp.FLAGS)},
            "apparmor": {"enabled": apparmor_enabled()},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"org.opencontainers.runc.version": f"{__version__}-imgtool",
                        "org.opencontainers.runc.checkpoint.enabled": "false",
                        **({"io.github.seccomp.libseccomp.version": libseccomp} if libseccomp else {})},
    }


def starter_spec() -> dict:
    """runc spec's template: `sh` in a rootfs/ with runc's mounts, masks and capabilities.

    A cgroup namespace only on a unified (v2) host, as runc's: on v1 its tests add one themselves,
    and a second entry of one type is a malformed spec.
    """
    from .cgroups import is_unified

    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                    "cwd": "/", "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            *standard_mounts(),
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
            + ([{"type": "cgroup"}] if is_unified() else []),
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
