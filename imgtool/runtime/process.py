"""The runtime-spec `process` applied in a forked child, shared by the container init and `exec`.

Why its own module: both the init (after pivot_root) and `exec` (after setns into the container's
mount namespace) end the same way, and the order matters for security: rlimits while still
privileged on the host, then oom_score_adj, AppArmor, the user, capabilities and no_new_privs, the
working directory checked to be inside the root (CVE-2024-21626), args[0] resolved on the
container's PATH, every host fd marked close-on-exec, and last the seccomp filter and execve.
"""

from __future__ import annotations

import os
import resource
import stat

from . import capabilities, jsonfast, seccomp, syscalls

EXIT_SETUP = 125
EXIT_NOEXEC = 126
EXIT_NOTFOUND = 127


class SetupError(Exception):
    """A failure before exec, carrying the exit code docker would use."""

    def __init__(self, message: str, code: int = EXIT_SETUP):
        super().__init__(message)
        self.code = code


def compile_seccomp(profile: dict | None):
    """linux.seccomp compiled now, while libseccomp can still be loaded from the host's root
    (before pivot_root or setns into the container's mounts); None without a profile."""
    try:
        return seccomp.compile(profile) if profile else None
    except seccomp.SeccompError as exc:
        raise SetupError(str(exc)) from None


def set_rlimits(proc: dict) -> None:
    """process.rlimits exactly as given (runc's setupRlimits), while still privileged on the host:
    before any user namespace, where raising a hard limit (CAP_SYS_RESOURCE) is no longer possible."""
    for rl in proc.get("rlimits") or []:
        kind = getattr(resource, rl.get("type", ""), None) if rl.get("type", "").startswith("RLIMIT_") else None
        if kind is None:
            raise SetupError(f"wrong rlimit value: {rl.get('type')}")
        try:
            resource.setrlimit(kind, (rl["soft"], rl["hard"]))
        except ValueError:  # CPython's word for EPERM here (no CAP_SYS_RESOURCE), or soft > hard
            raise SetupError(f"error setting rlimit type {kind}: " + (
                "operation not permitted" if rl["soft"] <= rl["hard"] else "invalid argument")) from None


def default_home(proc: dict) -> None:
    """HOME from the container's /etc/passwd for process.user.uid ("/" if none) when env has none
    or an empty one, as runc sets it. Runs inside the container's root: a FIFO or device there counts as no passwd,
    and only the first 4 MiB are read (users.py's rules, without its imports)."""
    env = proc.setdefault("env", [])
    if [e for e in env if e.startswith("HOME=")][-1:] not in ([], ["HOME="]):  # the last one wins: set, not empty
        return
    uid, home = str((proc.get("user") or {}).get("uid", 0)), "/"
    try:
        fd = os.open("/etc/passwd", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            data = os.read(fd, 4 << 20) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        finally:
            os.close(fd)
    except OSError:
        data = b""
    for line in data.decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2] == uid and fields[5]:
            home = fields[5]
            break
    env.append(f"HOME={home}")


def prepare_process(proc: dict, flt):
    """oom_score_adj, user, capabilities, no_new_privs, umask; returns the compiled
    seccomp filter (`compile_seccomp`) still to load, or None if it was loaded here.

    Without no_new_privs the filter is loaded here, while CAP_SYS_ADMIN is still held (the kernel
    requires one or the other); with it, by the caller as late as it can (runc's order: before
    waiting for `start`, so startContainer hooks run under it).
    """
    default_home(proc)
    if "oomScoreAdj" in proc:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc["oomScoreAdj"]))
    if proc.get("apparmorProfile"):
        with open("/proc/self/attr/apparmor/exec" if os.path.exists("/proc/self/attr/apparmor") else
                  "/proc/self/attr/exec", "w") as f:
            f.write(f"exec {proc['apparmorProfile']}")
    if flt is not None and not proc.get("noNewPrivileges"):
        flt.load()
        flt = None
    user = proc.get("user") or {}
    caps = proc.get("capabilities") or {}
    capabilities.drop_bounding(capabilities.mask(caps.get("bounding")))
    os.setgroups(list(user.get("additionalGids") or []))
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
    gid, uid = user.get("gid", 0), user.get("uid", 0)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
    capabilities.apply(caps)
    if proc.get("noNewPrivileges"):
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
    if "umask" in user:
        os.umask(user["umask"])
    return flt


def chdir(cwd: str, retry_later: bool = False) -> bool:
    """Enter process.cwd (made if missing, as runc does) and check it is inside the root.

    runc's order: first as root, before the user is set up (a directory only root can reach), and
    again as the user if that was refused (`retry_later`: return False instead of failing).
    """
    try:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    except PermissionError as exc:
        if retry_later:
            return False
        raise SetupError(f"cannot change to working directory {cwd}: {exc.strerror}") from None
    except OSError as exc:
        raise SetupError(f"cannot change to working directory {cwd}: {exc.strerror}") from None
    here = os.getcwd()
    if not here.startswith("/") or "(unreachable)" in here:  # runc's verifyCwd (CVE-2024-21626)
        raise SetupError(f"working directory {cwd} is outside the container")
    return True


def lookpath(name: str, env: list[str]) -> str:
    """args[0] resolved on the container's PATH: a create-time error when missing, as runc's."""
    if "/" in name:
        if not os.path.exists(name):
            raise SetupError(f"exec: {jsonfast.dumps(name)}: stat {name}: no such file or directory", EXIT_NOTFOUND)
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
    for d in path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SetupError(f"exec: {jsonfast.dumps(name)}: executable file not found in $PATH", EXIT_NOTFOUND)


def close_fds(keep: set[int], preserve: int = 0) -> None:
    """Mark every fd but stdio and `keep` close-on-exec (CVE-2024-21626: no host fd may leak);
    fds 3 .. 3+preserve-1 are passed on (runc's --preserve-fds)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if 3 <= fd < 3 + preserve:
            os.set_inheritable(fd, True)
        elif fd > 2 and fd not in keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def go_strerror(exc: OSError) -> str:
    """An errno's text as runc prints it (Go's are lower case: "no such file or directory"),
    which callers and runc's own tests match."""
    return (exc.strerror or str(exc)).lower()


def exec_process(exe: str, proc: dict, flt) -> None:
    """Load the pending seccomp filter and execve: the last two steps, nothing in between."""
    env = dict(e.partition("=")[::2] for e in proc.get("env") or [])
    import _signal  # built in: importable after pivot_root, unlike signal.py

    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):  # Python ignores these, and exec keeps "ignored"
        _signal.signal(sig, _signal.SIG_DFL)
    if flt is not None:
        flt.load()
    os.execve(exe, proc["args"], env)
