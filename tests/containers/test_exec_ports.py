"""exec inside a running container's namespaces and cgroup; published ports, -P, conflicts;
outbound access from the container's own network namespace."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from .conftest import HTTPD, free_port, http_get, leftovers, state, until


def test_exec_sees_fs_pid_net_namespaces_and_cgroup(cstore, imgtool):
    cid = imgtool("run", "-d", "--name", "ex", "busybox", "sh", "-c", "echo marker > /tmp/m; exec sleep 1000",
                  check=True).stdout.strip()
    pid = state(cstore, cid)["pid"]
    # `run -d` returns while the shell may still be before its `exec`: PID 1's command line is
    # checked below, so wait for the exec (which comes after the marker) from the host
    until(lambda: Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00", what="the exec")
    r = imgtool("exec", "ex", "cat", "/tmp/m")
    assert r.stdout == "marker\n", r
    r = imgtool("exec", "ex", "sh", "-c", "cat /proc/1/cmdline; echo; for n in pid net mnt; do readlink /proc/self/ns/$n; done; "
                "cat /proc/self/cgroup; hostname; id -u", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("sleep")  # PID 1 there is the container's process
    for got, ns in zip(lines[1:4], ("pid", "net", "mnt")):
        assert got == os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
    assert any(cid in line and ":memory:" in line for line in lines), lines
    assert lines[-2] == cid[:12] and lines[-1] == "0"
    r = imgtool("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "ex", "sh", "-c", 'echo $(id -u) $PWD $X', check=True)
    assert r.stdout == "65534 /tmp 1\n"
    assert imgtool("exec", "ex", "sh", "-c", "exit 7").returncode == 7
    r = imgtool("exec", "ex", "no-such-binary")
    assert r.returncode == 127 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    imgtool("kill", "ex", check=True)
    r = imgtool("exec", "ex", "true")
    assert r.returncode != 0 and "is not running" in r.stderr and r.stderr.count("\n") == 1


def test_groups_and_open_files_as_docker_gives_them(cstore, imgtool):
    """docker run and exec: the primary gid leads the supplementary groups (`groups=0(root)`), and
    RLIMIT_NOFILE is the hard limit, soft and hard (dockerd's), not runc's template 1024."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    script = "id -g; grep ^Groups: /proc/self/status; ulimit -n; ulimit -H -n"
    r = imgtool("run", "--rm", "busybox", "sh", "-c", script, check=True)
    assert r.stdout.split() == ["0", "Groups:", "0", str(hard), str(hard)], r
    r = imgtool("run", "--rm", "-u", "4242:77", "busybox", "grep", "^Groups:", "/proc/self/status", check=True)
    assert r.stdout.split() == ["Groups:", "77"], r
    imgtool("run", "-d", "--name", "grp", "busybox", "sleep", "1000", check=True)
    r = imgtool("exec", "-u", "nobody", "grp", "sh", "-c", script, check=True)
    gid, _, first, *rest = r.stdout.split()
    assert first == gid and rest[-2:] == [str(hard), str(hard)], r
    imgtool("rm", "-f", "grp", check=True)


def test_two_containers_same_container_port(cstore, imgtool):
    p1, p2 = free_port(), free_port()
    a = imgtool("run", "-d", "--name", "web-a", "-p", f"127.0.0.1:{p1}:80", "busybox", *HTTPD, check=True).stdout.strip()
    b = imgtool("run", "-d", "--name", "web-b", "-p", f"127.0.0.1:{p2}:80", "busybox", *HTTPD, check=True).stdout.strip()
    assert f"hello from {a[:12]}" in http_get(p1)
    assert f"hello from {b[:12]}" in http_get(p2)
    r = imgtool("run", "--rm", "--network", "container:web-b", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1/")
    assert r.stdout == f"hello from {b[:12]}\n", r  # the other container's namespace: its loopback
    before = imgtool("ps", "-a", "-q", check=True).stdout
    r = imgtool("run", "-d", "--name", "web-c", "-p", f"127.0.0.1:{p1}:80", "busybox", *HTTPD)
    assert r.returncode == 125 and r.stdout == ""
    assert r.stderr == f"imgtool: Bind for 127.0.0.1:{p1} failed: port is already allocated\n"
    assert imgtool("ps", "-a", "-q", check=True).stdout == before, "the refused container was created"
    assert f"hello from {a[:12]}" in http_get(p1)


def test_publish_all_and_inspect_ports(images, imgtool):
    cid = imgtool("run", "-d", "-P", "exposed", *HTTPD, check=True).stdout.strip()
    doc = imgtool("container", "inspect", "--", cid[:8], check=True).stdout
    import json

    ports = json.loads(doc)[0]["NetworkSettings"]["Ports"]
    assert set(ports) == {"80/tcp", "8080/tcp"}
    host_port = int(ports["80/tcp"][0]["HostPort"])
    assert "hello from" in http_get(host_port)
    assert f"0.0.0.0:{host_port}->80/tcp" in imgtool("ps", check=True).stdout


def _host_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound address
            return s.getsockname()[0]
        except OSError:
            return None


def test_outbound_from_own_network_namespace(cstore, imgtool):
    addr = _host_address()
    if addr is None or addr.startswith("127."):
        pytest.skip("the host has no non-loopback IPv4 address to serve from")
    server = socket.socket()
    server.bind((addr, 0))
    server.listen()
    got = []

    def serve():
        conn, peer = server.accept()
        got.append(conn.recv(100))
        conn.sendall(b"pong\n")
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = server.getsockname()[1]
    r = imgtool("run", "--rm", "busybox", "sh", "-c",
                f"ip -o addr show | grep -c 'inet 10.0.2.100' ; echo ping | nc {addr} {port}; "
                "cat /etc/resolv.conf; grep -c $(hostname) /etc/hosts", check=True)
    t.join(10)
    server.close()
    assert r.stdout.split("\n") == ["1", "pong", "nameserver 10.0.2.3", "1", ""] and got == [b"ping\n"]
    r = imgtool("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link show | grep -c UP; ip -o link | wc -l",
                check=True)
    assert r.stdout.split() == ["1", "1"]  # only lo, and up
    host = imgtool("run", "--rm", "--network", "host", "busybox", "hostname", check=True).stdout.strip()
    assert host == socket.gethostname()
