"""A container's own network namespace: loopback, outbound access and published ports, no iptables.

Why slirp4netns (docs/runtime.md "Networking" has the measurements): these hosts have no iptables,
so no bridge + NAT; a userspace stack behind a tap device gives the namespace outbound access, and
its `add_hostfwd` API binds the published host ports. pasta (Debian's passt of 2023-03) starts
faster and forwards faster, but there a connection the container opens never sees the peer's FIN
(busybox `nc` to a host server hangs after the reply), which breaks ordinary clients; an in-netns
forwarder handles inbound only, so it would need one of the two anyway.

The monitor makes the namespace itself, bind-mounted on a file under the run dir, and starts
slirp4netns in it before the container exists (`begin`); the runtime joins it by path, as podman's
does, and slirp4netns' start-up overlaps the container's. slirp4netns, `teardown` and the test
checks name the namespace by that path; it outlives neither the container nor `rm`. slirp4netns runs in
a session of its own (a killed monitor does not take the network with it); `teardown` kills it by
its pid file, checked by name.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from imgtool.errors import ImgtoolError
from imgtool.runtime import syscalls

from .ports import PortMapping

# not under the runtime's state root (IMGTOOL_RUNTIME_ROOT): both keep one directory per container
# ID, and the runtime's cleanup of its own would take the slirp4netns pid file with it
RUN_ROOT = Path(os.environ.get("IMGTOOL_CONTAINERS_RUN", "/run/imgtool-net"))
ADDRESS = "10.0.2.100"  # slirp4netns' guest address in its default 10.0.2.0/24
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_READY_TIMEOUT = 30


class NetworkError(ImgtoolError):
    """The container's network could not be set up (docker's exit code 125)."""

    exit_code = 125


def run_dir(container_id: str) -> Path:
    """Per-boot files of a running container (tmpfs: gone after a reboot, as the processes are)."""
    return RUN_ROOT / container_id


class Stack:
    """slirp4netns starting up for a container's namespace (`begin`); `complete` waits for it."""

    def __init__(self, rundir: Path, ready_fd: int) -> None:
        self.rundir, self.ready_fd = rundir, ready_fd

    def complete(self, ports: list[PortMapping]) -> None:
        """Wait until slirp4netns has configured the namespace, then publish `ports`."""
        try:
            ready = select.select([self.ready_fd], [], [], _READY_TIMEOUT)[0] and os.read(self.ready_fd, 1) == b"1"
        finally:
            self.close()
        if not ready:
            lines = (self.rundir / "slirp.log").read_text(errors="replace").strip().splitlines()
            raise NetworkError(f"cannot set up the container network: {lines[-1] if lines else 'slirp4netns failed'}")
        for m in ports:
            _hostfwd(self.rundir / "slirp.sock", m)

    def close(self) -> None:
        """Stop listening for readiness (idempotent); slirp4netns itself goes with `teardown`."""
        if self.ready_fd >= 0:
            os.close(self.ready_fd)
            self.ready_fd = -1


def netns_path(container_id: str) -> Path:
    """The file holding a container's own network namespace (the runtime joins it by path)."""
    return run_dir(container_id) / "netns"


def begin(container_id: str) -> Stack:
    """Make the container's network namespace and start slirp4netns in it, without waiting.

    Why before the container exists: slirp4netns' start-up (exec, namespace configuration) then
    runs while the runtime builds the container, which joins the namespace by path, instead of
    after it on the path of every `run -p`.
    """
    rundir = run_dir(container_id)
    rundir.mkdir(parents=True, exist_ok=True)
    nsfile = netns_path(container_id)
    nsfile.touch()
    _new_namespace(nsfile)
    ready_r, ready_w = os.pipe()
    try:
        with open(rundir / "slirp.log", "wb") as log:
            proc = subprocess.Popen(
                ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--api-socket",
                 str(rundir / "slirp.sock"), "--ready-fd", str(ready_w), "--netns-type=path", str(nsfile), "tap0"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(ready_w,), start_new_session=True)
    except FileNotFoundError:
        os.close(ready_r)
        raise NetworkError("slirp4netns is not installed: use --network host or none") from None
    finally:
        os.close(ready_w)
    (rundir / "slirp.pid").write_text(str(proc.pid))
    return Stack(rundir, ready_r)


def _new_namespace(nsfile: Path) -> None:
    """A new, empty network namespace, bind-mounted on `nsfile` (made by a thread: `_in_thread`)."""
    def make() -> None:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        syscalls.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(nsfile), None, syscalls.MS_BIND)

    _in_thread(make, "cannot create the container's network namespace")


def _in_thread(work: Callable[[], None], failing: str) -> None:
    """Run `work` in a short-lived thread; an OSError becomes a NetworkError `failing: why`.

    Why a thread: a network namespace belongs to the thread that unshares or joins it, so the rest
    of this process stays in the host's; a thread costs ~0.1 ms where a fork of this (large)
    process cost 10-70 ms on the start path of every container (CPython 3.11 has no os.unshare).
    """
    failure: list[OSError] = []

    def body() -> None:
        try:
            work()
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=body, name="netns")
    thread.start()
    thread.join()
    if failure:
        raise NetworkError(f"{failing}: {failure[0]}")


def _hostfwd(api: Path, m: PortMapping) -> None:
    """One `add_hostfwd` request (slirp4netns' API: one request per connection)."""
    request = {"execute": "add_hostfwd", "arguments": {"proto": m.protocol, "host_addr": m.host_ip or "0.0.0.0",
                                                       "host_port": m.host_port, "guest_port": m.container_port}}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(_READY_TIMEOUT)
        sock.connect(str(api))
        sock.sendall(json.dumps(request).encode())
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    try:
        doc = json.loads(reply)
    except ValueError:
        doc = {"error": {"desc": reply.decode(errors="replace") or "no reply"}}
    if "error" in doc:
        raise NetworkError(f"Bind for {m.host_ip or '0.0.0.0'}:{m.host_port} failed: "
                           f"{(doc['error'] or {}).get('desc', 'slirp4netns refused the port')}")


def loopback_up(pid: int) -> None:
    """`--network none`: only `lo`, but up (as docker); set from a thread joining the namespace."""
    def up() -> None:
        with open(f"/proc/{pid}/ns/net", "rb") as ns:
            syscalls.setns(ns.fileno(), syscalls.CLONE_NEWNET)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            req = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))

    _in_thread(up, "cannot bring up the container's loopback")


def _slirp_pid(rundir: Path) -> int | None:
    try:
        pid = int((rundir / "slirp.pid").read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "slirp4netns" else None


def teardown(container_id: str) -> None:
    """Stop slirp4netns and release the namespace file (idempotent; safe when nothing was set up)."""
    rundir = run_dir(container_id)
    pid = _slirp_pid(rundir)
    if pid is not None:
        try:
            os.kill(pid, 9)
            for _ in range(100):  # reap it if it is our child (the monitor's), else init does
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.01)
        except (ProcessLookupError, ChildProcessError):
            pass
    nsfile = netns_path(container_id)
    if nsfile.exists():
        try:
            syscalls.umount(str(nsfile), syscalls.MNT_DETACH)
        except OSError:
            pass
    for entry in rundir.iterdir() if rundir.is_dir() else ():
        entry.unlink(missing_ok=True)
    if rundir.is_dir():
        rundir.rmdir()
