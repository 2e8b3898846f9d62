"""A scriptable hostile HTTP peer on 127.0.0.1: each test says what each path answers.

Real sockets, no mocks: a ThreadingHTTPServer whose handler looks up the longest matching path
prefix in `routes` and calls it with the handler (so a route can lie about Content-Length, stall,
redirect forever or hang up). Every request's method, path and headers are recorded, so a test can
check what the client sent where (an Authorization header on a host it should never reach).
"""

from __future__ import annotations

import http.server
import sys
import threading
from typing import Callable

Route = Callable[["Handler"], None]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "HostilePeer"

    def log_message(self, *args) -> None:
        pass

    def send(self, status: int, body: bytes = b"", headers: dict | None = None, length: int | None = None) -> None:
        """Answer `status` with `body`, announcing `length` bytes (the body's own length unless told)."""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        path = self.path.split("?")[0]
        matches = [p for p in self.server.routes if path.startswith(p)]
        if not matches:
            return self.send(404, b'{"errors":[{"code":"NOT_FOUND","message":"no route"}]}')
        self.server.routes[max(matches, key=len)](self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch  # noqa: N815


class HostilePeer(http.server.ThreadingHTTPServer):
    """`HostilePeer({"/v2/": route, ...})`, serving on its own thread until `close()`."""

    daemon_threads = True

    def __init__(self, routes: dict[str, Route] | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {"/v2/": lambda h: h.send(200, b"{}"), **(routes or {})}
        self.seen: list[tuple[str, str, dict, bytes]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        """A client hanging up on a peer that lies or stalls is what these tests provoke: not worth
        socketserver's traceback on stderr. Anything else is still printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def authorizations(self) -> list[str]:
        """The Authorization headers this peer received (none, if it is not the registry)."""
        return [h["Authorization"] for _, _, h, _ in self.seen if "Authorization" in h]

    def close(self) -> None:
        self.shutdown()
        self.server_close()
