"""A TCP proxy on 127.0.0.1 that slows server->client bytes and records what clients sent.

Used to make "kill the server in the middle of a pull" deterministic: at a few MB/s a blob takes
seconds, so the test can see a partial download on disk, kill the registry, restart it, and check the
client resumed with `Range` (the recorded request heads say so).
"""

from __future__ import annotations

import socket
import threading
import time


class ThrottlingProxy:
    """127.0.0.1:port -> upstream_port, server->client (or with `uploads`, client->server) capped
    at `rate` bytes/s."""

    def __init__(self, upstream_port: int, rate: int, uploads: bool = False):
        self.upstream_port = upstream_port
        self.rate = rate
        self.uploads = uploads
        self.sent_by_clients = bytearray()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=self._pump, args=(client, upstream, self.uploads, True), daemon=True).start()
        self._pump(upstream, client, not self.uploads, False)

    def _pump(self, src: socket.socket, dst: socket.socket, throttle: bool, record: bool) -> None:
        chunk = max(self.rate // 20, 4096) if throttle else 1 << 16
        try:
            while True:
                data = src.recv(chunk)
                if not data:
                    break
                if record:
                    with self._lock:
                        if len(self.sent_by_clients) < 1 << 20:
                            self.sent_by_clients += data[:512]
                dst.sendall(data)
                if throttle:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
