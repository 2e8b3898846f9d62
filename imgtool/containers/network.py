"""A container's own network namespace: loopback, outbound access and published ports via `pasta`.

Why pasta (docs/runtime.md "Networking" has the measurements): these hosts have no iptables, so
no bridge + NAT; pasta (Debian's `passt`) gives the namespace a tap device with outbound access and
binds the published host ports itself, splicing loopback connections without a TCP stack in between,
starts in ~20 ms, and reports a taken host port with a non-zero exit before it detaches.

The namespace itself is made by the container's init (the runtime's `network` namespace); the
monitor then bind-mounts `/proc/PID/ns/net` to a file under the run dir (pasta must open a path: as
root it drops privileges before joining, and a path survives the init for `teardown`). pasta exits
on its own when that file is deleted; `teardown` also kills it by its pid file, checked by name.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import subprocess
from pathlib import Path

from imgtool.errors import ImgtoolError
from imgtool.runtime import syscalls

from .ports import PortMapping

RUN_ROOT = Path(os.environ.get("IMGTOOL_CONTAINERS_RUN", "/run/imgtool-containers"))
# slirp-style fixed addressing: pasta's default copies the host's address, and then the container
# cannot reach the host through it (podman#22502)
ADDRESS, PREFIX, GATEWAY = "10.0.2.100", "24", "10.0.2.2"
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


class NetworkError(ImgtoolError):
    """The container's network could not be set up (docker's exit code 125)."""

    exit_code = 125


def run_dir(container_id: str) -> Path:
    """Per-boot files of a running container (tmpfs: gone after a reboot, as the processes are)."""
    return RUN_ROOT / container_id


def _pasta_ports(ports: list[PortMapping]) -> list[str]:
    args = []
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        specs = [f"{m.host_ip + '/' if m.host_ip else ''}{m.host_port}:{m.container_port}"
                 for m in ports if m.protocol == proto]
        args += [x for spec in specs for x in (flag, spec)] or [flag, "none"]
    return args


def setup(container_id: str, pid: int, ports: list[PortMapping]) -> None:
    """Give the (new, empty) network namespace of `pid` loopback, outbound access and `ports`."""
    rundir = run_dir(container_id)
    rundir.mkdir(parents=True, exist_ok=True)
    nsfile = rundir / "netns"
    nsfile.touch()
    syscalls.mount(f"/proc/{pid}/ns/net", str(nsfile), None, syscalls.MS_BIND)
    argv = ["pasta", "--runas", "0", "--config-net", "-a", ADDRESS, "-n", PREFIX, "-g", GATEWAY,
            *_pasta_ports(ports), "-T", "none", "-U", "none", "--no-map-gw", "--quiet",
            "--netns", str(nsfile), "-P", str(rundir / "pasta.pid")]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=30)
    except FileNotFoundError:
        raise NetworkError("pasta is not installed (Debian package passt): use --network host or none") from None
    except subprocess.TimeoutExpired:
        raise NetworkError("pasta did not set up the network within 30 s") from None
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.decode(errors="replace").splitlines() if x and "syslog" not in x]
        raise NetworkError(f"cannot set up the container network: {lines[-1] if lines else 'pasta failed'}")


def loopback_up(pid: int) -> None:
    """`--network none`: only `lo`, but up (as docker), set from a child that joins the namespace."""
    child = os.fork()
    if child == 0:
        code = 1
        try:
            with open(f"/proc/{pid}/ns/net", "rb") as ns:
                syscalls.setns(ns.fileno(), syscalls.CLONE_NEWNET)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                req = struct.pack("16sH14x", b"lo", 0)
                flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
                fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
            code = 0
        finally:
            os._exit(code)
    os.waitpid(child, 0)


def _pasta_pid(rundir: Path) -> int | None:
    try:
        pid = int((rundir / "pasta.pid").read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm.startswith(("pasta", "passt")) else None


def teardown(container_id: str) -> None:
    """Stop pasta and release the namespace file (idempotent; safe when nothing was set up)."""
    rundir = run_dir(container_id)
    pid = _pasta_pid(rundir)
    if pid is not None:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    nsfile = rundir / "netns"
    if nsfile.exists():
        try:
            syscalls.umount(str(nsfile), syscalls.MNT_DETACH)
        except OSError:
            pass
    for entry in rundir.iterdir() if rundir.is_dir() else ():
        entry.unlink(missing_ok=True)
    if rundir.is_dir():
        rundir.rmdir()
