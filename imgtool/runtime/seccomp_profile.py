"""docker's seccomp profiles: the default one (written here from docker's documentation), profile
files for `--security-opt seccomp=FILE`, and both resolved for one container into `linux.seccomp`.

A profile here is in docker's format, a superset of runtime-spec's `linux.seccomp`: a rule may carry
`includes`/`excludes` of capabilities, architectures (Go's names: amd64, arm64, s390x) and a
minimum kernel, and `archMap` names the sub-architectures of each native one. `resolve` keeps the
rules that apply to this container and machine, exactly as dockerd does before it hands the spec to
runc; so a docker profile file means the same here, and `--cap-add` widens the default profile.

Why the default is a denylist (defaultAction ALLOW, the blocked syscalls answered with EPERM) and
not docker's allowlist (defaultAction ERRNO, ~370 allowed names): what docker's profile means is its
documented table of blocked syscalls and their capability exceptions, and that is what is written
here. An allowlist written by us could only be copied from moby or risk refusing a syscall an
ordinary program needs, and it answers every syscall newer than the list with EPERM, which breaks
libc's fallbacks (glibc falls back from clone3 or faccessat2 on ENOSYS only: moby#42680, and runc
had to patch its filters to answer ENOSYS). The price: a syscall added to a future kernel is
allowed until it is listed here, and a name this libseccomp does not know cannot be denied. Both are
bounded by the capability set (the kernel's own gate for every dangerous family: mount, modules,
time, reboot) and no_new_privs, and every family docker names is denied as a family (the new mount
API with mount, io_uring as a whole, every keyring call).
"""

from __future__ import annotations

import errno
import json
import os
import platform
from typing import Any, Iterable, Iterator

from imgtool.errors import ImgtoolError

EPERM, ENOSYS = errno.EPERM, errno.ENOSYS
_MASK32 = 0xFFFFFFFF
# clone's namespace flags: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# personality values docker lets through: PER_LINUX, PER_LINUX32, UNAME26, both, and the query
_PERSONALITY_SAFE = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# native machine -> (Go's arch name as docker profiles write it, libseccomp architectures filtered)
_MACHINES = {
    "x86_64": ("amd64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    "aarch64": ("arm64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
    "s390x": ("s390x", ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]),
    "ppc64le": ("ppc64le", ["SCMP_ARCH_PPC64LE"]),
    "riscv64": ("riscv64", ["SCMP_ARCH_RISCV64"]),
}

# docker's table of significant blocked syscalls, by what lets a container have them: nothing (always
# refused), or one of the capabilities that is the kernel's own gate for them (docker's --cap-add)
_ALWAYS = (
    "add_key", "keyctl", "request_key",  # the kernel keyring is not namespaced
    "kexec_load", "kexec_file_load",  # loading a new kernel
    "create_module", "query_module", "get_kernel_syms", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
    "afs_syscall", "tuxcall", "security", "vserver",  # obsolete or never implemented
    "swapon", "swapoff", "pivot_root", "vm86", "vm86old",
    "io_uring_setup", "io_uring_enter", "io_uring_register",  # a way around seccomp itself (moby#46762)
)
_BY_CAPABILITY = (
    (("CAP_SYS_ADMIN",), ("mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
                          "open_tree", "mount_setattr", "unshare", "setns", "quotactl", "quotactl_fd",
                          "lookup_dcookie", "fanotify_init", "sethostname", "setdomainname")),
    (("CAP_SYS_ADMIN", "CAP_BPF"), ("bpf",)),
    (("CAP_SYS_ADMIN", "CAP_PERFMON"), ("perf_event_open",)),
    (("CAP_SYS_ADMIN", "CAP_SYSLOG"), ("syslog",)),
    (("CAP_SYS_PTRACE",), ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
                           "userfaultfd")),
    (("CAP_SYS_MODULE",), ("init_module", "finit_module", "delete_module")),
    (("CAP_SYS_TIME",), ("settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
                         "clock_adjtime64")),
    (("CAP_SYS_BOOT",), ("reboot",)),
    (("CAP_SYS_RAWIO",), ("iopl", "ioperm")),
    (("CAP_SYS_PACCT",), ("acct",)),
    (("CAP_SYS_NICE",), ("get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "move_pages")),
    (("CAP_SYS_TTY_CONFIG",), ("vhangup",)),
    (("CAP_DAC_READ_SEARCH",), ("open_by_handle_at",)),
    (("CAP_SYS_CHROOT",), ("chroot",)),
)


class ProfileError(ImgtoolError):
    """A --security-opt, or a profile file that cannot be read or is no seccomp profile (the
    message names the file); docker run's exit code 125."""

    exit_code = 125


def _deny(names: Iterable[str], errno_ret: int = EPERM, **extra: Any) -> dict[str, Any]:
    return {"names": list(names), "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret, **extra}


def _any_bit(index: int, bits: tuple[int, ...]) -> list[dict[str, Any]]:
    """Comparisons matching argument `index` with any of `bits` set (ORed, as runc reads them)."""
    return [{"index": index, "op": "SCMP_CMP_MASKED_EQ", "value": bit, "valueTwo": bit} for bit in bits]


def _aligned_blocks(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """[lo, hi] as power-of-two aligned blocks (mask, first value): what SCMP_CMP_MASKED_EQ matches."""
    while lo <= hi:
        size = lo & -lo if lo else 1 << 32
        while size > hi - lo + 1:
            size >>= 1
        yield ~(size - 1) & _MASK32, lo
        lo += size


def _outside(allowed: tuple[int, ...]) -> list[dict[str, Any]]:
    """Comparisons matching every 32-bit value of argument 0 but `allowed` (the syscall's int).

    libseccomp cannot AND two comparisons of one argument, and runc's format ORs them, so "none of
    these values" is written as the aligned blocks between them (a few dozen comparisons)."""
    out, lo = [], 0
    for value in (*sorted(allowed), _MASK32 + 1):
        out += [{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": mask, "valueTwo": first}
                for mask, first in _aligned_blocks(lo, value - 1)]
        lo = value + 1
    return out


def _default() -> dict[str, Any]:
    """The default profile in docker's format, its capability exceptions as `excludes`."""
    rules = [_deny(_ALWAYS)]
    rules += [_deny(names, excludes={"caps": list(caps)}) for caps, names in _BY_CAPABILITY]
    # ptrace could get around seccomp before 4.8
    rules.append(_deny(["ptrace"], excludes={"caps": ["CAP_SYS_PTRACE"], "minKernel": "4.8"}))
    s390 = ["s390", "s390x"]  # clone's flags are its second argument there
    rules.append(_deny(["clone"], args=_any_bit(0, _CLONE_NAMESPACES),
                       excludes={"caps": ["CAP_SYS_ADMIN"], "arches": s390}))
    rules.append(_deny(["clone"], args=_any_bit(1, _CLONE_NAMESPACES), includes={"arches": s390},
                       excludes={"caps": ["CAP_SYS_ADMIN"]}))
    # clone3's flags are behind a pointer seccomp cannot read: ENOSYS, so libc falls back to clone
    rules.append(_deny(["clone3"], ENOSYS, excludes={"caps": ["CAP_SYS_ADMIN"]}))
    rules.append(_deny(["personality"], args=_outside(_PERSONALITY_SAFE)))
    arch_map = [{"architecture": arches[0], "subArchitectures": arches[1:]} for _go, arches in _MACHINES.values()]
    return {"defaultAction": "SCMP_ACT_ALLOW", "archMap": arch_map, "syscalls": rules}


DEFAULT = _default()


def load(path: str) -> dict[str, Any]:
    """A profile file for `--security-opt seccomp=PATH`, checked to be a JSON object of the right shape."""
    try:
        with open(path, "rb") as f:
            text = f.read(16 << 20)
    except OSError as exc:
        raise ProfileError(f"opening seccomp profile ({path}) failed: {(exc.strerror or str(exc)).lower()}") from None
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(f"decoding seccomp profile {path} failed: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("syscalls", []), list) or \
            not all(isinstance(r, dict) for r in doc.get("syscalls") or []):
        raise ProfileError(f"decoding seccomp profile {path} failed: not a seccomp profile "
                           "(an object with a syscalls list)")
    if doc.get("architectures") and doc.get("archMap"):
        raise ProfileError(f"seccomp profile {path}: both 'architectures' and 'archMap' are specified")
    if doc.get("listenerPath"):
        raise ProfileError(f"seccomp profile {path}: listenerPath (a seccomp agent) is not supported")
    return doc


def from_security_opts(opts: list[str]) -> str | dict[str, Any]:
    """docker run's `--security-opt seccomp=unconfined|builtin|PATH` (or the older `seccomp:PATH`)
    as bundle.Overrides.seccomp; the last one wins. Other options (apparmor, label, ...) are refused
    rather than ignored."""
    choice: str | dict[str, Any] = "default"
    for opt in opts:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key != "seccomp" or not sep or not value:
            raise ProfileError(f"invalid --security-opt: {opt!r} "
                               "(imgtool supports seccomp=unconfined|builtin|PROFILE.json)")
        choice = {"unconfined": "unconfined", "builtin": "default"}.get(value) or load(value)
    return choice


def _kernel() -> tuple[int, ...]:
    release = os.uname().release.split("-")[0].split(".")
    return tuple(int(p) for p in release[:2] if p.isdigit())


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2])


def _applies(rule: dict[str, Any], caps: set[str], go_arch: str, kernel: tuple[int, ...]) -> bool:
    """dockerd's filter: every included cap held, no excluded one; the arch and kernel in range."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("arches") and go_arch not in inc["arches"] or go_arch in (exc.get("arches") or ()):
        return False
    if not set(inc.get("caps") or ()) <= caps or caps & set(exc.get("caps") or ()):
        return False
    if inc.get("minKernel") and kernel < _version(inc["minKernel"]):
        return False
    return not (exc.get("minKernel") and kernel >= _version(exc["minKernel"]))


def resolve(profile: dict[str, Any], capabilities: Iterable[str]) -> dict[str, Any]:
    """`linux.seccomp` for a container holding `capabilities` on this machine, from a docker-format
    profile (a runtime-spec one passes through unchanged, as it has no includes or excludes)."""
    go_arch, arches = _MACHINES.get(platform.machine(), (platform.machine(), []))
    caps, kernel = set(capabilities), _kernel()
    out = {k: v for k, v in profile.items() if k in ("defaultAction", "defaultErrnoRet", "flags", "architectures")}
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == (arches[:1] or [None])[0]:
            out["architectures"] = [entry["architecture"], *(entry.get("subArchitectures") or [])]
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if _applies(rule, caps, go_arch, kernel):
            names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
            syscalls.append({"names": names, **{k: v for k, v in rule.items()
                                                if k in ("action", "errnoRet", "args")}})
    out["syscalls"] = syscalls
    return out
