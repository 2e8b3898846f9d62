"""Linux capabilities by name, docker's default set, and applying a runtime-spec capability block.

Why docker's set: `imgtool run` promises docker's behaviour, and images (and Dockerfile RUN steps)
are written against it: chown/setuid work, raw sockets work, but no mount, module or ptrace.
"""

from __future__ import annotations

from imgtool.errors import ImgtoolError

from . import syscalls

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
NUMBER = {name: i for i, name in enumerate(NAMES)}

DOCKER_DEFAULT = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


class CapabilityError(ImgtoolError):
    """A --cap-add/--cap-drop name that is no capability (docker run's exit code 125)."""

    exit_code = 125


def _canonical(name: str, flag: str) -> str:
    full = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
    if full != "CAP_ALL" and full not in NUMBER:
        raise CapabilityError(f'invalid {flag}: unknown capability: "{full}"')
    return full


def docker_set(add: list[str], drop: list[str]) -> list[str]:
    """docker run's capability set (moby's TweakCapabilities): `--cap-add ALL` gives every one but
    the dropped; `--cap-drop ALL` only the added; else DOCKER_DEFAULT less the dropped, plus the
    added (an added one wins). Names with or without CAP_, in any case."""
    adds = [_canonical(n, "CapAdd") for n in add]
    drops = {_canonical(n, "CapDrop") for n in drop}
    if "CAP_ALL" in adds:
        return [n for n in NAMES if n not in drops]
    base = [] if "CAP_ALL" in drops else [n for n in DOCKER_DEFAULT if n not in drops]
    return list(dict.fromkeys([*base, *adds]))


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def mask(names: list[str] | tuple[str, ...] | None) -> int:
    """Bit mask of the named capabilities this kernel knows; unknown ones are skipped (spec: warn)."""
    top = last_cap()
    out = 0
    for name in names or ():
        n = NUMBER.get(name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper())
        if n is not None and n <= top:
            out |= 1 << n
    return out


def drop_bounding(keep: int) -> None:
    """Drop every capability not in `keep` from the bounding set (needs CAP_SETPCAP: do it first)."""
    for n in range(last_cap() + 1):
        if not keep & (1 << n):
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, n)


def apply(caps: dict) -> None:
    """Set effective/permitted/inheritable, then raise ambient, from a runtime-spec block.

    Called after setuid with PR_SET_KEEPCAPS on, so a non-root user keeps exactly these.
    """
    syscalls.capset(mask(caps.get("effective")), mask(caps.get("permitted")), mask(caps.get("inheritable")))
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = mask(caps.get("ambient"))
    for n in range(last_cap() + 1):
        if ambient & (1 << n):
            try:
                syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, n)
            except PermissionError:  # not also inheritable+permitted: ungrantable, which the spec
                pass  # says must not fail the container (runc's spec template has exactly this)
