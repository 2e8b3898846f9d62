"""`-p/--publish` and `-P`: docker's grammar (go-connections nat.ParsePortSpec), messages and PORTS text.

A mapping is (host IP, host port, container port, protocol); an empty host port is allocated here
from a socket bound to port 0, so the number is known before the network is set up and can be shown
by `ps` and `inspect`. Conflicts are found by binding the host address first, which is exactly what
the forwarder will do, so the message names the real problem (docker's "port is already allocated").
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from imgtool.errors import ImgtoolError

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class PortMapping:
    """One published port: host_ip '' means every address (docker's 0.0.0.0 and [::])."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0

    def to_dict(self) -> dict:
        return {"container_port": self.container_port, "protocol": self.protocol, "host_ip": self.host_ip,
                "host_port": self.host_port}

    @property
    def key(self) -> str:
        """docker's `80/tcp`."""
        return f"{self.container_port}/{self.protocol}"


def _port(text: str, what: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ImgtoolError(f"invalid {what}: {text}")
    return int(text)


def _range(text: str, what: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    first = _port(lo, what)
    last = _port(hi, what) if sep else first
    if last < first:
        raise ImgtoolError(f"invalid {what}: {text}")
    return list(range(first, last + 1))


def parse_publish(spec: str) -> list[PortMapping]:
    """`[ip:][hostPort:]containerPort[/proto]`, ranges included; IPv6 in brackets or bare."""
    rest, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise ImgtoolError(f"invalid proto: {proto}")
    parts = rest.split(":")
    if len(parts) == 1:
        ip, host, ctr = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, ctr = "", parts[0], parts[1]
    else:
        ip, host, ctr = ":".join(parts[:-2]), parts[-2], parts[-1]
    if not ctr:
        raise ImgtoolError(f"no port specified: {spec}<empty>")
    ip = ip.strip("[]")
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise ImgtoolError(f"invalid IP address: {ip}") from None
    ctr_ports = _range(ctr, "containerPort")
    host_ports = _range(host, "hostPort") if host else [0] * len(ctr_ports)
    if len(host_ports) != len(ctr_ports):
        if len(ctr_ports) == 1 and host:  # a host range for one container port: take the first free one
            host_ports = [_first_free(ip, host_ports, proto)]
        else:
            raise ImgtoolError(f"invalid ranges specified for container and host Ports: {ctr} and {host}")
    return [PortMapping(c, proto, ip, h) for c, h in zip(ctr_ports, host_ports)]


def parse_exposed(exposed: list[str]) -> list[PortMapping]:
    """`-P`: every EXPOSEd port (`80/tcp`, `53/udp`, `8080`) on a host port allocated later."""
    out = []
    for item in exposed:
        port, _, proto = item.partition("/")
        out.append(PortMapping(_port(port, "containerPort"), (proto or "tcp").lower()))
    return out


def _socket(ip: str, proto: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return socket.socket(family, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)


def _try_bind(ip: str, port: int, proto: str) -> int | None:
    """The port bound (0 = any) on ip, or None when it is taken; the socket is closed again."""
    with _socket(ip, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip or "0.0.0.0", port))
        except OSError:
            return None
        return sock.getsockname()[1]


def _first_free(ip: str, ports: list[int], proto: str) -> int:
    for port in ports:
        if _try_bind(ip, port, proto) is not None:
            return port
    raise ImgtoolError(f"Bind for {ip or '0.0.0.0'}:{ports[0]}-{ports[-1]} failed: port is already allocated")


def allocate(mappings: list[PortMapping]) -> list[PortMapping]:
    """Host ports chosen for the empty ones, and every host address checked free (one line if not)."""
    out, seen = [], set()
    for m in mappings:
        port = m.host_port
        key = (m.host_ip, port, m.protocol)
        if port and key in seen:
            raise ImgtoolError(f"Bind for {m.host_ip or '0.0.0.0'}:{port} failed: port is already allocated")
        got = _try_bind(m.host_ip, port, m.protocol)
        if got is None:
            raise ImgtoolError(f"Bind for {m.host_ip or '0.0.0.0'}:{port} failed: port is already allocated")
        seen.add((m.host_ip, got, m.protocol))
        out.append(PortMapping(m.container_port, m.protocol, m.host_ip, got))
    return out


def display(mappings: list[PortMapping], exposed: list[str] = ()) -> str:
    """ps's PORTS column: `127.0.0.1:8080->80/tcp, 443/tcp`."""
    items = [f"{m.host_ip or '0.0.0.0'}:{m.host_port}->{m.key}" for m in mappings]
    published = {m.key for m in mappings}
    items += [e if "/" in e else f"{e}/tcp" for e in sorted(exposed) if (e if "/" in e else f"{e}/tcp") not in published]
    return ", ".join(items)
