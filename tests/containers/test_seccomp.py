"""`imgtool run` under docker's default seccomp profile: Seccomp: 2 in the container and in an
`exec`, namespaces and mounts refused with EPERM until `--cap-add SYS_ADMIN` or
`--security-opt seccomp=unconfined`, a profile file in docker's format, bad profiles refused."""

from __future__ import annotations

import json

STATUS_AND_USERNS = "grep ^Seccomp: /proc/self/status; unshare -U true && echo userns-ok"


def _run(imgtool, *flags: str, script: str):
    return imgtool("run", "--rm", "--network", "none", *flags, "busybox", "sh", "-c", script)


def test_default_profile_refuses_namespaces_and_mounts(cstore, imgtool):
    r = _run(imgtool, script=STATUS_AND_USERNS + "; mkdir -p /m; mount -t tmpfs none /m && echo mounted")
    assert r.returncode == 1 and r.stdout.splitlines() == ["Seccomp:\t2"], r
    assert "unshare(0x10000000): Operation not permitted" in r.stderr and "Operation not permitted" in r.stderr


def test_unconfined_has_no_filter(cstore, imgtool):
    r = _run(imgtool, "--security-opt", "seccomp=unconfined", script=STATUS_AND_USERNS)
    assert r.returncode == 0 and r.stdout.splitlines() == ["Seccomp:\t0", "userns-ok"], r


def test_cap_add_sys_admin_widens_the_default_profile(cstore, imgtool):
    r = _run(imgtool, "--cap-add", "SYS_ADMIN",
             script="grep ^Seccomp: /proc/self/status; mkdir -p /m; mount -t tmpfs none /m && echo mounted; "
                    "unshare -m true && echo mntns-ok; keyctl show 2>/dev/null || echo no-keyring")
    assert r.returncode == 0 and r.stdout.splitlines() == ["Seccomp:\t2", "mounted", "mntns-ok", "no-keyring"], r


def test_profile_file_in_dockers_format(cstore, imgtool, tmp_path):
    profile = tmp_path / "profile.json"
    deny_mkdir = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                  "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [deny_mkdir]}))
    r = _run(imgtool, "--security-opt", f"seccomp={profile}", script="mkdir /x")
    assert r.returncode == 1 and r.stdout == "" and "Operation not permitted" in r.stderr, r
    r = _run(imgtool, "--security-opt", f"seccomp={profile}", "--cap-add", "sys_admin",
             script="mkdir /x && echo made; unshare -U true && echo userns-ok")
    assert r.returncode == 0 and r.stdout.splitlines() == ["made", "userns-ok"], r  # the file replaces the default


def test_exec_joins_the_containers_filter(cstore, imgtool):
    cid = imgtool("run", "-d", "--network", "none", "busybox", "sleep", "60", check=True).stdout.strip()
    try:
        r = imgtool("exec", cid, "grep", "^Seccomp:", "/proc/self/status", check=True)
        assert r.stdout == "Seccomp:\t2\n"
    finally:
        imgtool("rm", "-f", cid, check=True)


def test_bad_profile_file_is_one_line_exit_125(cstore, imgtool, tmp_path):
    for name, text, message in (("broken.json", "{nope", "decoding seccomp profile {} failed"),
                                ("list.json", "[]", "decoding seccomp profile {} failed: not a seccomp profile"),
                                ("both.json", '{"architectures": ["SCMP_ARCH_X86_64"], "archMap": [{}]}',
                                 "seccomp profile {}: both 'architectures' and 'archMap' are specified"),
                                ("agent.json", '{"listenerPath": "/run/agent.sock"}',
                                 "seccomp profile {}: listenerPath (a seccomp agent) is not supported")):
        path = tmp_path / name
        path.write_text(text)
        r = _run(imgtool, "--security-opt", f"seccomp={path}", script="true")
        assert r.returncode == 125 and r.stdout == "" and r.stderr.count("\n") == 1, r
        assert r.stderr.startswith("imgtool: " + message.format(path)) and "Traceback" not in r.stderr, r
