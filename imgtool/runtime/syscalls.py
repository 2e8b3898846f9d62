"""Thin ctypes wrappers for the Linux syscalls CPython 3.11 does not expose.

Why ctypes and not a helper binary: the runtime must create namespaces, mount and pivot_root from the
same process that later execs the container, and 3.11 has no `os.unshare`/`os.setns`. Every wrapper
raises `OSError` with the real errno, so callers handle failures exactly as they would `os.*` ones.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL("libc.so.6", use_errno=True)  # ctypes.util.find_library runs ldconfig: 10+ ms

_ARCH = os.uname().machine
_SYSCALL_NR = {
    "x86_64": {"pivot_root": 155, "openat2": 437, "capset": 126, "capget": 125, "clone": 56,
               "open_tree": 428, "move_mount": 429},
    "aarch64": {"pivot_root": 41, "openat2": 437, "capset": 91, "capget": 90, "clone": 220,
                "open_tree": 428, "move_mount": 429},
}[_ARCH]

# clone / unshare flags
CLONE_PARENT = 0x00008000
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24
MS_RELATIME = 1 << 21
MNT_DETACH = 2

# openat2 resolve flags
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(path: str | bytes | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def unshare(flags: int) -> None:
    """Leave the given namespaces (os.unshare arrived only in Python 3.12)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace behind `fd` (an open /proc/PID/ns/* file)."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); `target` may be /proc/self/fd/N so the kernel mounts on an inode we resolved in-root."""
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), "mount", target)


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2), which glibc does not wrap."""
    _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["pivot_root"]), _b(new_root), _b(put_old)), "pivot_root", new_root)


def setdomainname(name: str) -> None:
    """Set the NIS domain name (runtime-spec `domainname`; needs a private UTS namespace)."""
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname")


def sethostname(name: str) -> None:
    """Set the UTS hostname (only meaningful inside a private UTS namespace)."""
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments."""
    args = [ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5)]
    return _check(_libc.prctl(ctypes.c_int(option), *args), "prctl")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_openat2_supported: bool | None = None


def openat2(dirfd: int, path: str | bytes, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): the kernel resolves `path` with `resolve` rules, e.g. RESOLVE_IN_ROOT for chroot-like lookup."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    ret = _libc.syscall(ctypes.c_long(_SYSCALL_NR["openat2"]), ctypes.c_int(dirfd), _b(path),
                        ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    return _check(ret, "openat2", os.fsdecode(path))


def has_openat2() -> bool:
    """Whether this kernel has openat2 (Linux >= 5.6); probed once, the resolver falls back to a walk."""
    global _openat2_supported
    if _openat2_supported is None:
        try:
            os.close(openat2(os.open("/", os.O_PATH), ".", os.O_PATH, RESOLVE_IN_ROOT))
            _openat2_supported = True
        except OSError:
            _openat2_supported = False
    return _openat2_supported


def fork_in_pid_namespace(join: int | None = None) -> int:
    """os.fork() whose child is PID 1 of a new PID namespace (or, with `join`, a process of the PID
    namespace behind that fd); the parent's own later children are unaffected.

    Why not a raw clone(2) with CLONE_NEWPID: it bypasses glibc's and CPython's fork handling, and
    a process with other threads (a test runner, the builder's compression pool) can hand the child
    a lock some vanished thread held: the child then hangs before it ever runs (seen in CI). So:
    unshare(CLONE_NEWPID) (or setns) changes only where *this thread's* next child goes, os.fork()
    does a proper fork, and setns() back to our own PID namespace undoes it in the parent. The
    child enters its other namespaces itself, single-threaded.
    """
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if join is None:
            unshare(CLONE_NEWPID)
        else:
            setns(join, CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            setns(own, CLONE_NEWPID)
            raise
        if pid != 0:
            setns(own, CLONE_NEWPID)
        return pid
    finally:
        os.close(own)


_OPEN_TREE_CLONE = 1
_AT_RECURSIVE = 0x8000
_MOVE_MOUNT_F_EMPTY_PATH = 0x04
_MOVE_MOUNT_T_EMPTY_PATH = 0x40


def open_tree_clone(path: str, recursive: bool) -> int:
    """open_tree(OPEN_TREE_CLONE): an fd holding a detached bind copy of `path` (with its submounts
    when `recursive`), made with our privileges now and attachable later with `move_mount`."""
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | (_AT_RECURSIVE if recursive else 0)
    return _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["open_tree"]), ctypes.c_int(-100), _b(path),
                                ctypes.c_uint(flags)), "open_tree", path)


def move_mount(tree: int, target: int) -> None:
    """Attach the detached mount `tree` (from `open_tree_clone`) onto the directory or file `target` (an fd)."""
    _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["move_mount"]), ctypes.c_int(tree), b"", ctypes.c_int(target),
                         b"", ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH)), "move_mount")


def clone_parent() -> int:
    """clone(CLONE_PARENT | SIGCHLD): a fork whose child is our parent's child (0 in the child).

    Only for a single-threaded process (a forked init): the raw syscall skips glibc's and CPython's
    fork handlers, which is harmless with no other thread whose locks the child could inherit (the
    hang `fork_in_pid_namespace` avoids). Why: the init that unshared a user and a PID namespace
    cannot itself be PID 1, and the runtime must be able to wait for the one that is (runc's
    nsexec clones its stage 2 the same way). Both arguments past the flags (stack, ptid) are zero on
    every architecture: the child runs on a copy of our stack, as after fork.
    """
    return _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["clone"]), ctypes.c_ulong(CLONE_PARENT | 17),
                                ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
                  "clone")


# --- capabilities -------------------------------------------------------------------------------

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["capset"]), ctypes.byref(hdr), data), "capset")


def capget() -> tuple[int, int, int]:
    """This thread's (effective, permitted, inheritable) capability masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.syscall(ctypes.c_long(_SYSCALL_NR["capget"]), ctypes.byref(hdr), data), "capget")
    eff = data[0].effective | (data[1].effective << 32)
    prm = data[0].permitted | (data[1].permitted << 32)
    inh = data[0].inheritable | (data[1].inheritable << 32)
    return eff, prm, inh
