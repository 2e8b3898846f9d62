"""The network choice for containers (docs/runtime.md "Networking: why slirp4netns"), measured.

For each of slirp4netns, pasta and an in-netns forwarder (a host listener whose upstream socket is
created inside the namespace via setns): time until a published port on 127.0.0.1 answers, the
mean of 200 sequential HTTP GETs through it to busybox httpd in the namespace, and whether an
outbound connection from the namespace sees the server's close (pasta 2023-03: it does not).

Run as root: python bench/network.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from imgtool.runtime import syscalls


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /passwd HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return b" 200 " in data[:16]
    except OSError:
        return False


def _slirp(nsfile: Path, port: int, tmp: Path) -> subprocess.Popen:
    api = tmp / "api.sock"
    r, w = os.pipe()
    proc = subprocess.Popen(["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--api-socket",
                             str(api), "--ready-fd", str(w), "--netns-type=path", str(nsfile), "tap0"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(api))
        s.sendall(json.dumps({"execute": "add_hostfwd", "arguments": {
            "proto": "tcp", "host_addr": "127.0.0.1", "host_port": port, "guest_port": 80}}).encode())
        s.shutdown(socket.SHUT_WR)
        s.recv(4096)
    return proc


def _pasta(nsfile: Path, port: int, tmp: Path) -> subprocess.Popen | None:
    subprocess.run(["pasta", "--runas", "0", "--config-net", "-a", "10.0.2.100", "-n", "24", "-g", "10.0.2.2",
                    "-t", f"127.0.0.1/{port}:80", "-u", "none", "-T", "none", "-U", "none", "--no-map-gw", "--quiet",
                    "--netns", str(nsfile), "-P", str(tmp / "pasta.pid")], check=True, capture_output=True)
    return None


def _forwarder(pid: int, port: int) -> socket.socket:
    host_ns, ctr_ns = os.open("/proc/self/ns/net", os.O_RDONLY), os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(128)

    def pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            syscalls.setns(ctr_ns, syscalls.CLONE_NEWNET)
            up = socket.socket()
            syscalls.setns(host_ns, syscalls.CLONE_NEWNET)
            up.connect(("127.0.0.1", 80))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _outbound_sees_close(nsfile: Path) -> bool:
    """A host server answers and closes; does `nc` in the namespace see the end (exit) in time?"""
    addr = subprocess.run(["sh", "-c", "ip -4 -o route get 192.0.2.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'"],
                          capture_output=True, text=True).stdout.strip()
    if not addr:
        return False
    server = socket.socket()
    server.bind((addr, 0))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(100)
        conn.sendall(b"pong\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    r = subprocess.run(["nsenter", f"--net={nsfile}", "busybox", "timeout", "5", "busybox", "nc", addr,
                        str(server.getsockname()[1])], input=b"ping\n", capture_output=True)
    server.close()
    return r.returncode == 0 and r.stdout == b"pong\n"


def measure(kind: str) -> tuple[float, float, str]:
    """(setup seconds, mean GET seconds, outbound close seen) for one option."""
    tmp = Path(tempfile.mkdtemp(prefix=f"netbench-{kind}-", dir="/run"))
    httpd = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up; exec busybox httpd -f -p 80 -h /etc"])
    nsfile = tmp / "netns"
    helper = None
    try:
        time.sleep(0.3)
        nsfile.touch()
        syscalls.mount(f"/proc/{httpd.pid}/ns/net", str(nsfile), None, syscalls.MS_BIND)
        port = _port()
        started = time.perf_counter()
        helper = {"slirp4netns": lambda: _slirp(nsfile, port, tmp), "pasta": lambda: _pasta(nsfile, port, tmp),
                  "in-netns forwarder": lambda: _forwarder(httpd.pid, port)}[kind]()
        while not _get(port):
            time.sleep(0.001)
        setup = time.perf_counter() - started
        t = time.perf_counter()
        for _ in range(200):
            _get(port)
        get = (time.perf_counter() - t) / 200
        outbound = "n/a (inbound only)" if kind == "in-netns forwarder" else \
            ("yes" if _outbound_sees_close(nsfile) else "NO: the peer's close never arrives")
        return setup, get, outbound
    finally:
        if isinstance(helper, subprocess.Popen):
            helper.kill()
        elif isinstance(helper, socket.socket):
            helper.close()
        if (tmp / "pasta.pid").exists():
            subprocess.run(["kill", (tmp / "pasta.pid").read_text().strip()])
        httpd.kill()
        httpd.wait()
        syscalls.umount(str(nsfile), syscalls.MNT_DETACH)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    print("| option | setup until the port answers (ms) | GET through the port (ms) | outbound sees the peer's close |")
    print("|---|---|---|---|")
    for kind in ("slirp4netns", "pasta", "in-netns forwarder"):
        setup, get, outbound = measure(kind)
        print(f"| {kind} | {setup * 1000:.0f} | {get * 1000:.2f} | {outbound} |")


if __name__ == "__main__":
    main()
