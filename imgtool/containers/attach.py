"""`imgtool attach`: a running container's stdio, served by its monitor over a unix socket.

Why the monitor: it already holds the container's output pipes (or pty master) and, for `-i`, the
write end of its stdin, as conmon does for podman; `attach` connects to `<record>/attach.sock`
(0700 directory: root's containers only). The monitor sends each output chunk framed as docker's
stdcopy stream (8-byte header: stream 1 or 2, three zero bytes, big-endian length; then the bytes)
and forwards what a client sends to the container's stdin; a client's half-close ends only its
input, never the container's stdin (docker's StdinOnce=false for `run -d -i`). A client that does
not read is dropped past 1 MiB buffered, so it can never stall the container or its log. At each
exit the monitor closes its clients once the exit is recorded, so `attach` returns that exit code.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from imgtool.errors import ImgtoolError

from .record import Record

SOCKET = "attach.sock"
_HEADER = struct.Struct(">BxxxI")
_STREAM_IDS = {"stdout": 1, "stderr": 2}
_MAX_BUFFERED = 1 << 20
_CHUNK = 65536
PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@contextmanager
def _short_path(directory: Path) -> Iterator[str]:
    """The socket's path through /proc/self/fd: a store path can exceed sun_path's 108 bytes."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET}"
    finally:
        os.close(fd)


class _Client:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.out = bytearray()
        self.reading = True  # until the client half-closes


class Hub:
    """The monitor's side (a `runtime.tty.Hub`): the listener, its clients, their output buffers."""

    def __init__(self, rec: Record):
        self.stdin = rec.config.interactive  # docker: attach's input reaches only an `-i` container
        self.clients: dict[int, _Client] = {}
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        (rec.dir / SOCKET).unlink(missing_ok=True)
        with _short_path(rec.dir) as path:
            self.listener.bind(path)
        self.listener.listen(8)
        self.path = rec.dir / SOCKET

    def readers(self) -> list[int]:
        return [self.listener.fileno(), *(fd for fd, c in self.clients.items() if c.reading)]

    def writers(self) -> list[int]:
        return [fd for fd, c in self.clients.items() if c.out]

    def read(self, fd: int) -> bytes:
        """Accept a client, or take its input (b"" when there is none for the container)."""
        if fd == self.listener.fileno():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return b""
            sock.setblocking(False)
            self.clients[sock.fileno()] = _Client(sock)
            return b""
        client = self.clients[fd]
        try:
            data = client.sock.recv(_CHUNK)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            client.reading = False
        return data if self.stdin else b""

    def send(self, stream: str, data: bytes) -> None:
        """Queue one output chunk for every client and push what the sockets take now."""
        frame = _HEADER.pack(_STREAM_IDS.get(stream, 1), len(data)) + data
        for fd, client in list(self.clients.items()):
            client.out += frame
            if len(client.out) > _MAX_BUFFERED:
                self._drop(fd)
        self.flush(list(self.clients))

    def flush(self, writable: list[int]) -> None:
        for fd in writable:
            client = self.clients.get(fd)
            if client is None or not client.out:
                continue
            try:
                del client.out[:client.sock.send(client.out)]
            except BlockingIOError:
                pass
            except OSError:
                self._drop(fd)

    def _drop(self, fd: int) -> None:
        self.clients.pop(fd).sock.close()

    def end_run(self) -> None:
        """After an exit is recorded: give each client what is queued (1 s at most), then EOF."""
        for fd, client in list(self.clients.items()):
            try:
                client.sock.settimeout(1)
                client.sock.sendall(client.out)
            except OSError:
                pass
            self._drop(fd)

    def close(self) -> None:
        """The monitor is done: no more clients."""
        self.end_run()
        self.listener.close()
        self.path.unlink(missing_ok=True)


def attach(rec: Record, stdin: bool = True, sig_proxy: bool = True) -> int:
    """docker attach: relay the running container's output here and our stdin to it (with `-i`)
    until it exits; forward our signals to it with `sig_proxy` (a third INT/TERM ends attach, as
    docker's CLI); its exit code. Our stdin's end does not end it: the container's stdin stays open."""
    from imgtool.runtime import container as rt
    from imgtool.runtime.tty import raw_mode

    from . import record

    status = rec.live_status()
    if status == "restarting":
        raise ImgtoolError("You cannot attach to a restarting container, wait until it is running")
    if status != "running":
        raise ImgtoolError("You cannot attach to a stopped container, start it first")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with _short_path(rec.dir) as path:
            sock.connect(path)
    except OSError:
        sock.close()
        raise ImgtoolError(f"cannot attach to container {rec.id[:12]}: its monitor does not answer "
                           "(attached runs and monitors older than attach serve no clients)") from None

    ends = []

    def proxy(sig: int, _frame) -> None:
        if sig in (signal.SIGINT, signal.SIGTERM):
            ends.append(sig)
            if len(ends) >= 3:  # docker's CLI: the third INT/TERM ends attach itself
                raise SystemExit(128 + sig)
        try:
            rt.Container.load(rec.id).kill(sig)
        except (ImgtoolError, OSError):
            pass  # it ended meanwhile

    previous = {s: signal.signal(s, proxy) for s in PROXIED} if sig_proxy and not rec.config.tty else {}
    try:
        with sock, raw_mode(0 if rec.config.tty and stdin and os.isatty(0) else None):
            _relay(sock, sys.stdin.fileno() if stdin and rec.config.interactive else -1)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return record.load_dir(rec.dir).exit_code()


def _relay(sock: socket.socket, stdin: int) -> None:
    """Frames from the monitor to our stdout/stderr, our stdin to the monitor, until it closes."""
    out = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    buf = b""
    while True:
        readable = select.select([sock] + ([stdin] if stdin >= 0 else []), [], [])[0]
        if stdin in readable:
            data = os.read(stdin, _CHUNK)
            if data:
                sock.sendall(data)
            else:
                sock.shutdown(socket.SHUT_WR)
                stdin = -1
        if sock in readable:
            chunk = sock.recv(_CHUNK)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= _HEADER.size:
                stream, size = _HEADER.unpack_from(buf)
                if len(buf) < _HEADER.size + size:
                    break
                target = out.get(stream, out[1])
                target.write(buf[_HEADER.size:_HEADER.size + size])
                target.flush()
                buf = buf[_HEADER.size + size:]
