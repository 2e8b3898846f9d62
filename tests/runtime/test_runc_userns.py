"""User namespaces in imgtool-runc (runtime-spec `linux.namespaces` type user, `uidMappings`,
`gidMappings`), checked from both sides: what the container sees in /proc/self/uid_map and as its
own uid, and who owns on the host what it creates. Error wording is runc's (libcontainer validate)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from imgtool.runtime.unpack import unpack_image

from .runc_fixtures import SLEEPER, Runc, cid, runc, runc_bin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/proc/self/ns/user"),
                                reason="needs root and user namespaces")

UIDS = [{"containerID": 0, "hostID": 100000, "size": 65536}]
GIDS = [{"containerID": 0, "hostID": 200000, "size": 65536}]


@pytest.fixture
def ubundle(busybox_store):
    """`make(args, edit)` -> a busybox bundle with a user namespace mapping UIDS/GIDS and a host
    directory `out` bind-mounted at /out (mode 0777) for the container to create files in.

    The bundle lives in a directory every uid can traverse: the container's root is host uid
    100000, and the rootfs must be reachable by it (the bundle's business, as with runc)."""
    base = Path(tempfile.mkdtemp(prefix="imgtool-userns-"))
    base.chmod(0o711)
    path = base / "bundle"
    unpack_image(busybox_store, "busybox", path)
    path.chmod(0o755)
    _remap(path / "rootfs")
    out = base / "out"
    out.mkdir()
    out.chmod(0o777)
    pristine = json.loads((path / "config.json").read_text())

    def make(args: list[str], edit=None) -> Path:
        spec = json.loads(json.dumps(pristine))
        spec["process"]["args"] = args
        spec["process"]["terminal"] = False
        spec["root"]["readonly"] = True  # `runc spec`'s default: a remount that must keep the host's locked flags
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"], spec["linux"]["gidMappings"] = UIDS, GIDS
        spec["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
        if edit:
            edit(spec)
        (path / "config.json").write_text(json.dumps(spec))
        return path

    make.out = out
    yield make
    shutil.rmtree(base, ignore_errors=True)


def _remap(rootfs: Path) -> None:
    """chown -R by the mappings (runc's tests/cmd/remap-rootfs): the container's root owns its rootfs,
    so it can create the mount points the config needs, as it could without a user namespace."""
    for d, dirs, files in os.walk(rootfs):
        for p in [d, *(os.path.join(d, n) for n in dirs + files)]:
            st = os.lstat(p)
            os.lchown(p, UIDS[0]["hostID"] + st.st_uid, GIDS[0]["hostID"] + st.st_gid)
            if not os.path.islink(p):
                os.chmod(p, st.st_mode & 0o7777)  # chown cleared setuid bits


def _maps(text: str) -> list[list[int]]:
    return [list(map(int, line.split())) for line in text.splitlines() if line.strip()]


def test_mapped_container_sees_its_maps_and_owns_files_as_mapped_ids(runc, ubundle):
    c = cid()
    b = ubundle(["sh", "-c", "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; "
                             "touch /out/by-root; grep -E ' (proc|sysfs|mqueue|devpts) ' /proc/self/mountinfo "
                             "| cut -d' ' -f9 | sort -u | tr '\\n' ' '"])
    out = runc.ok("run", "--bundle", b, c)
    uid_map, gid_map, rest = out.split("--\n")
    assert _maps(uid_map) == [[0, 100000, 65536]] and _maps(gid_map) == [[0, 200000, 65536]], out
    uid, mounts = rest.split("\n", 1)
    assert uid == "0", out  # root inside
    assert set(mounts.split()) == {"proc", "sysfs", "mqueue", "devpts"}, out  # mountable only in owned namespaces
    st = os.stat(ubundle.out / "by-root")
    assert (st.st_uid, st.st_gid) == (100000, 200000)


def test_exec_and_process_user_map_to_host_ids(runc, ubundle):
    c = cid()
    runc.ok("run", "-d", "--bundle", ubundle(SLEEPER), c)
    pid = runc.state(c)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    assert _maps(Path(f"/proc/{pid}/uid_map").read_text()) == [[0, 100000, 65536]]
    st = os.stat(f"/proc/{pid}")
    assert st.st_uid == 100000  # the init runs as container root = host 100000, not host root
    runc.ok("exec", "--user", "1000:1000", c, "touch", "/out/by-user")
    assert runc.ok("exec", c, "cat", "/proc/self/uid_map").split() == ["0", "100000", "65536"]
    st = os.stat(ubundle.out / "by-user")
    assert (st.st_uid, st.st_gid) == (101000, 201000)
    runc.ok("kill", c, "KILL")


def test_join_user_namespace_by_path(runc, ubundle):
    holder = cid()
    runc.ok("run", "-d", "--bundle", ubundle(SLEEPER), holder)
    pid = runc.state(holder)["pid"]

    def join(spec):
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "user"] + [
            {"type": "user", "path": f"/proc/{pid}/ns/user"}]
        del spec["linux"]["uidMappings"], spec["linux"]["gidMappings"]

    c = cid()
    out = runc.ok("run", "--bundle", ubundle(["sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user"], join), c)
    assert _maps(out.splitlines()[0]) == [[0, 100000, 65536]]
    assert out.splitlines()[1] == os.readlink(f"/proc/{pid}/ns/user")

    def join_other_maps(spec):
        join(spec)
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 10}]

    proc = runc("run", "--bundle", ubundle(["true"], join_other_maps), cid())
    assert proc.returncode == 1 and b"both namespace path and non-matching mapping specified" in proc.stderr
    runc.ok("kill", holder, "KILL")


def test_join_a_namespace_the_user_namespace_does_not_own(runc, ubundle):
    """runc joins every other namespace before the user one (userns.bats "wrong userns owner"): the
    host's network namespace, which the container's user namespace does not own, can be joined."""
    holder = cid()
    runc.ok("run", "-d", "--bundle", ubundle(SLEEPER), holder)
    pid = runc.state(holder)["pid"]

    def join(spec):
        kept = [n for n in spec["linux"]["namespaces"] if n["type"] not in ("user", "network")]
        spec["linux"]["namespaces"] = kept + [{"type": "user", "path": f"/proc/{pid}/ns/user"},
                                              {"type": "network", "path": f"/proc/{os.getpid()}/ns/net"}]
        del spec["linux"]["uidMappings"], spec["linux"]["gidMappings"]
        spec["mounts"] = [{"destination": m["destination"], "type": "bind", "source": "/sys", "options": ["rbind"]}
                          if m["type"] == "sysfs" else m for m in spec["mounts"]]  # no sysfs of an unowned netns

    show = ["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/user"]
    c = cid()
    runc.ok("run", "-d", "--bundle", ubundle(SLEEPER, join), c)
    want = [os.readlink("/proc/self/ns/net"), os.readlink(f"/proc/{pid}/ns/user")]
    assert runc.ok("exec", c, *show).split() == want  # exec joins in the same order
    runc.ok("kill", c, "KILL")
    runc.ok("kill", holder, "KILL")


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["linux"].update(namespaces=[n for n in s["linux"]["namespaces"] if n["type"] != "user"]),
     b"user namespace mappings specified, but user namespace isn't enabled in the config"),
    (lambda s: s["linux"].update(uidMappings=None, gidMappings=None),
     b"user namespaces enabled, but no namespace path to join nor mappings to apply specified"),
    (lambda s: s["linux"].update(uidMappings=[{"containerID": 0, "hostID": 100000, "size": 0}]),
     b"linux.uidMappings[0]: IDs must be integers"),
    (lambda s: s["linux"].update(gidMappings=[{"containerID": 0, "hostID": "x", "size": 1}]),
     b"linux.gidMappings[0]: IDs must be integers"),
    (lambda s: s["linux"].update(uidMappings=UIDS + [{"containerID": 10, "hostID": 5, "size": 1}]),
     b"linux.uidMappings: cannot write /proc/"),  # overlapping ranges: the kernel refuses the map
])
def test_bad_mappings_are_refused_with_one_line(runc, ubundle, edit, message):
    c = cid()
    proc = runc("create", "--bundle", ubundle(["true"], edit), c)
    err = proc.stderr.strip()
    assert proc.returncode == 1 and message in err and b"\n" not in err, err
    assert not (runc.root / c).exists()
