"""linux.seccomp through Debian's libseccomp2 (ctypes), compiled early and loaded just before exec.

Why libseccomp and not hand-built BPF: syscall names per architecture, multi-arch filters, argument
comparisons and the kernel feature probing are exactly what runc, crun and podman rely on it for.
`compile` validates the whole profile up front (an unknown action, operator or architecture is an
error, as runtime-spec requires); `Filter.load` is the last thing before execve, so the init's own
setup syscalls are not filtered. Unknown syscall names are skipped, as runc does (profiles list
syscalls of every kernel and architecture); a name only a sub-architecture has (i386's stime under
an x86_64 filter) resolves to one of libseccomp's negative pseudo numbers, which it translates for
that architecture, so its rule is kept, as runc keeps it.
"""

from __future__ import annotations

import ctypes
import errno

_ACT_KILL_PROCESS, _ACT_KILL_THREAD, _ACT_TRAP = 0x80000000, 0x00000000, 0x00030000
_ACT_ERRNO, _ACT_TRACE, _ACT_LOG, _ACT_ALLOW = 0x00050000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_NR_SCMP_ERROR = -1  # seccomp_syscall_resolve_name's "no such syscall"; lower numbers are pseudo syscalls
_ATTR_CTL_NNP, _ATTR_CTL_TSYNC, _ATTR_CTL_LOG, _ATTR_CTL_SSB = 3, 4, 6, 7
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": _ATTR_CTL_TSYNC, "SECCOMP_FILTER_FLAG_LOG": _ATTR_CTL_LOG,
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _ATTR_CTL_SSB}
ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
           "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
OPERATORS = tuple(_OPS)
ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
          "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
          "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
          "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64")
FLAGS = tuple(_FLAGS)


class SeccompError(Exception):
    """A profile libseccomp cannot express, or libseccomp missing (message names the field)."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_lib = None


def library() -> ctypes.CDLL:
    """libseccomp.so.2, loaded once; SeccompError if it is not installed."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError:
            raise SeccompError("linux.seccomp needs libseccomp (apt-get install libseccomp2)") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        for name in ("seccomp_arch_add", "seccomp_attr_set", "seccomp_load", "seccomp_rule_add_array"):
            getattr(lib, name).restype = ctypes.c_int
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        _lib = lib
    return _lib


def version() -> str:
    """libseccomp's version ('2.5.4'), or '' when it is missing."""
    try:
        lib = library()
    except SeccompError:
        return ""

    class _Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def _action(name: str, errno_ret: int | None, where: str) -> int:
    if name == "SCMP_ACT_ERRNO":
        return _ACT_ERRNO | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return _ACT_TRACE | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    fixed = {"SCMP_ACT_KILL": _ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": _ACT_KILL_THREAD,
             "SCMP_ACT_KILL_PROCESS": _ACT_KILL_PROCESS, "SCMP_ACT_TRAP": _ACT_TRAP, "SCMP_ACT_ALLOW": _ACT_ALLOW,
             "SCMP_ACT_LOG": _ACT_LOG}
    if name not in fixed:
        raise SeccompError(f"{where}: {name!r} is not a valid action for seccomp")
    return fixed[name]


class Filter:
    """A compiled (not yet loaded) libseccomp filter context."""

    def __init__(self, ctx: int):
        self.ctx = ctx

    def load(self) -> None:
        """Install the filter on this process (the last step before execve)."""
        lib = library()
        ret = lib.seccomp_load(self.ctx)
        lib.seccomp_release(self.ctx)
        if ret < 0:
            raise OSError(-ret, f"seccomp_load: {errno.errorcode.get(-ret, -ret)}")


def _args(rule_args: list, where: str) -> list[list[_ArgCmp]]:
    """runc's rule: distinct argument indexes AND together in one rule; a repeated index means one
    rule per comparison (OR)."""
    cmps = []
    for i, a in enumerate(rule_args or []):
        op = _OPS.get(a.get("op", ""))
        if op is None:
            raise SeccompError(f"{where}.args[{i}].op: {a.get('op')!r} is not a valid operator for seccomp")
        cmps.append(_ArgCmp(a.get("index", 0), op, a.get("value", 0) & (2**64 - 1), a.get("valueTwo", 0) & (2**64 - 1)))
    indexes = [c.arg for c in cmps]
    if len(set(indexes)) == len(indexes):
        return [cmps]
    return [[c] for c in cmps]


def compile(profile: dict) -> Filter:
    """Build a filter from `linux.seccomp`; SeccompError names the field that cannot be applied."""
    lib = library()
    default = _action(profile.get("defaultAction", ""), profile.get("defaultErrnoRet"), "linux.seccomp.defaultAction")
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError("linux.seccomp: seccomp_init failed")
    ok = False
    try:
        lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0)  # no_new_privs is process.noNewPrivileges' business
        for flag in profile.get("flags") or []:
            if flag not in _FLAGS:
                raise SeccompError(f"linux.seccomp.flags: {flag!r} is not supported")
            if lib.seccomp_attr_set(ctx, _FLAGS[flag], 1) < 0:
                raise SeccompError(f"linux.seccomp.flags: {flag} is not supported by this kernel or libseccomp")
        for arch in profile.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
            if not arch.startswith("SCMP_ARCH_") or token == 0:
                raise SeccompError(f"linux.seccomp.architectures: {arch!r} is not a valid architecture")
            ret = lib.seccomp_arch_add(ctx, token)
            if ret < 0 and ret != -errno.EEXIST:
                raise SeccompError(f"linux.seccomp.architectures: cannot add {arch}: {errno.errorcode.get(-ret)}")
        for n, rule in enumerate(profile.get("syscalls") or []):
            where = f"linux.seccomp.syscalls[{n}]"
            action = _action(rule.get("action", ""), rule.get("errnoRet"), where + ".action")
            groups = _args(rule.get("args"), where)
            if action == default:
                continue  # libseccomp refuses rules that repeat the default action
            for name in rule.get("names") or []:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == _NR_SCMP_ERROR:
                    continue  # not a syscall of any architecture this libseccomp knows
                for cmps in groups:
                    arr = (_ArgCmp * max(1, len(cmps)))(*cmps)
                    ret = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
                    if ret < 0 and ret != -errno.EEXIST:  # EEXIST: a profile repeating a rule
                        raise SeccompError(f"{where}: cannot add rule for {name}: {errno.errorcode.get(-ret, -ret)}")
        ok = True
        return Filter(ctx)
    finally:
        if not ok:
            lib.seccomp_release(ctx)
