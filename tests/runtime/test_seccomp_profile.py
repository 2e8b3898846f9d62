"""docker's default seccomp profile, loaded for real in a forked child: what it refuses and with
which errno, what a capability lets through, and that ordinary process and thread creation work;
docker-format profiles resolved as dockerd does; the profile in `imgtool run`'s config."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import threading

import pytest

from imgtool.oci.config import ImageConfig
from imgtool.runtime import capabilities, seccomp, seccomp_profile
from imgtool.runtime.bundle import Overrides, runtime_config

from .test_run import run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the filter and namespaces")

CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
ADDR_NO_RANDOMIZE, PER_LINUX32 = 0x0040000, 0x8


def _nr(name: str) -> int:
    return seccomp.library().seccomp_syscall_resolve_name(name.encode())


def _errno_of(name: str, *args) -> int:
    """0 if the raw syscall succeeded, else its errno. A clone that succeeds makes a child, which
    exits at once and is reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(_nr(name), *(ctypes.c_ulong(a) if isinstance(a, int) else a for a in args))
    if ret == 0 and name == "clone":
        os._exit(0)
    if ret > 0 and name == "clone":
        os.waitpid(ret, 0)
    return 0 if ret >= 0 else ctypes.get_errno()


def _probe() -> dict:
    """Syscalls whose answer without a filter (we are root with every capability) is known."""
    thread_ran = []
    t = threading.Thread(target=lambda: thread_ran.append(True))
    t.start()
    t.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return {
        "thread": bool(thread_ran), "fork": os.waitpid(pid, 0)[1] >> 8,
        "unshare0": _errno_of("unshare", 0),  # a no-op for the kernel
        "umount2": _errno_of("umount2", b"/nonexistent-imgtool", 0),  # ENOENT for the kernel
        "clone3": _errno_of("clone3", 0, 0),  # EINVAL for the kernel (no arguments)
        "clone_newuser": _errno_of("clone", CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),  # only reached if refused
        "keyctl": _errno_of("keyctl", 0, 0),
        "ptrace": _errno_of("ptrace", 2, os.getppid(), 0, 0),  # PEEKDATA of a tracee we do not have: ESRCH
        "personality_query": _errno_of("personality", 0xFFFFFFFF),
        "personality_linux32": _errno_of("personality", PER_LINUX32),
        "personality_no_aslr": _errno_of("personality", ADDR_NO_RANDOMIZE),
        "personality_reset": _errno_of("personality", 0),
    }


def _in_child(profile: dict) -> dict:
    """`_probe()` in a forked child with `profile` compiled and loaded."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            seccomp.compile(profile).load()
            os.write(w, json.dumps(_probe()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_default_profile_refuses_what_docker_refuses():
    got = _in_child(seccomp_profile.resolve(seccomp_profile.DEFAULT, capabilities.DOCKER_DEFAULT))
    assert got["thread"] and got["fork"] == 7  # clone3 answers ENOSYS, so libc falls back to clone
    assert got["clone3"] == errno.ENOSYS
    for name in ("unshare0", "umount2", "clone_newuser", "keyctl", "personality_no_aslr"):
        assert got[name] == errno.EPERM, (name, got)
    assert got["ptrace"] == errno.ESRCH  # allowed since 4.8, as docker's profile does
    assert got["personality_query"] == got["personality_linux32"] == got["personality_reset"] == 0


def test_cap_sys_admin_widens_the_profile():
    caps = capabilities.docker_set(["SYS_ADMIN"], [])
    got = _in_child(seccomp_profile.resolve(seccomp_profile.DEFAULT, caps))
    assert got["unshare0"] == got["clone_newuser"] == 0
    assert got["umount2"] == errno.ENOENT and got["clone3"] == errno.EINVAL
    assert got["keyctl"] == errno.EPERM and got["personality_no_aslr"] == errno.EPERM  # not capability-gated


def test_personality_comparisons_cover_everything_but_the_safe_values():
    args = next(r["args"] for r in seccomp_profile.DEFAULT["syscalls"] if r["names"] == ["personality"])
    matched = lambda v: any(v & a["value"] == a["valueTwo"] for a in args)  # noqa: E731
    assert not any(matched(v) for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF))
    assert all(matched(v) for v in (1, 7, 9, ADDR_NO_RANDOMIZE, 0x1FFFF, 0x20001, 0x20009, 0x400000, 0xFFFFFFFE))


def test_docker_format_rules_resolved_as_dockerd_does():
    go_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
               "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                           {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
               "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW", "comment": "old spelling"},
                            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                            {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                            {"names": ["arch_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": [go_arch]}},
                            {"names": ["other_arch"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["mips"]}},
                            {"names": ["new_kernel"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}}]}
    plain = seccomp_profile.resolve(profile, ["CAP_CHOWN"])
    assert [r["names"] for r in plain["syscalls"]] == [["read"], ["chroot"], ["arch_only"]]
    assert plain["defaultErrnoRet"] == 1 and "comment" not in plain["syscalls"][0]
    if platform.machine() in ("x86_64", "aarch64"):
        assert len(plain["architectures"]) == 2 and "archMap" not in plain
    admin = seccomp_profile.resolve(profile, ["CAP_SYS_ADMIN"])
    assert [r["names"] for r in admin["syscalls"]] == [["read"], ["mount"], ["arch_only"]]


def test_runtime_config_carries_the_profile_for_its_capabilities():
    image = ImageConfig(architecture="amd64", os="linux")
    default = runtime_config(image, None, Overrides())["linux"]["seccomp"]
    names = {n for r in default["syscalls"] for n in r["names"]}
    assert default["defaultAction"] == "SCMP_ACT_ALLOW" and {"mount", "unshare", "keyctl", "clone3"} <= names
    admin = runtime_config(image, None, Overrides(cap_add=["sys_admin"]))["linux"]["seccomp"]
    assert "mount" not in {n for r in admin["syscalls"] for n in r["names"]}
    assert "seccomp" not in runtime_config(image, None, Overrides(seccomp="unconfined"))["linux"]


def test_container_gets_the_filter_and_unconfined_none(clean_host):
    status, out = run(clean_host, "sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true && echo userns")
    assert out.splitlines()[0].split() == ["Seccomp:", "2"] and "Operation not permitted" in out and "userns" not in out
    status, out = run(clean_host, "sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true && echo userns",
                      seccomp="unconfined")
    assert out.split() == ["Seccomp:", "0", "userns"]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 syscalls under an x86_64 filter")
def test_names_only_a_sub_architecture_has_are_filtered_there(tmp_path):
    # stime and clock_settime64 exist only for i386 processes: libseccomp resolves them to pseudo
    # numbers (< -1) on x86_64 and translates them for the x86 arch, as runc relies on
    flt = seccomp.compile(seccomp_profile.resolve(seccomp_profile.DEFAULT, capabilities.DOCKER_DEFAULT))
    out = tmp_path / "filter.pfc"
    with open(out, "w") as f:
        assert seccomp.library().seccomp_export_pfc(ctypes.c_void_p(flt.ctx), f.fileno()) == 0
    seccomp.library().seccomp_release(ctypes.c_void_p(flt.ctx))
    text = out.read_text()
    x86 = text[text.index("# filter for arch x86 "):]
    assert 'syscall "stime"' in x86 and 'syscall "clock_settime64"' in x86, x86[:2000]
