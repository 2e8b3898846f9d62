"""Reading a small document (a manifest, an index, a token answer) from an untrusted HTTP peer.

`requests` reads a body with the request's read timeout on every socket read (60 s), no limit on
its size and no deadline: a peer that announces 5000 bytes, sends 18 and keeps the connection open
held a pull for a minute and then escaped as a urllib3 traceback; one that never stops sending
filled memory. Here the body is read in pieces with a cap, a stall timeout per piece and a
deadline for the whole, and every way it can go wrong is one RegistryError naming the URL.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import urllib3

from imgtool.errors import RegistryError

if TYPE_CHECKING:
    import requests

STALL = 10.0  # seconds without one byte in the middle of a small document: the peer is gone
_PIECE = 1 << 16


def read_capped(response: "requests.Response", limit: int, what: str, deadline: float = 60.0,
                truncate: bool = False) -> bytes:
    """The whole body of a `stream=True` response, at most `limit` bytes, within `deadline` seconds
    (and never more than STALL seconds without progress); else a one-line RegistryError. With
    `truncate` (an error answer, read for its message only), a longer body is cut at `limit`.

    A body read to its end leaves the connection in the pool (kept alive); any other is closed."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    announced = response.headers.get("Content-Length")
    of = f" of {announced}" if announced else ""
    end = time.monotonic() + deadline
    data = bytearray()
    late = f"{what}: body still incomplete after {deadline:.0f} s"
    wait = STALL
    try:
        while len(data) <= limit:
            left = end - time.monotonic()
            if left <= 0:
                raise RegistryError(f"{late} ({len(data)}{of} bytes)")
            wait = min(STALL, left)
            if sock is not None:
                sock.settimeout(wait)
            # decoded: requests asks for gzip, and the cap holds for what the encoding expands to
            piece = raw.read1(min(_PIECE, limit + 1 - len(data)), decode_content=True)
            if not piece:
                response._content_consumed = True  # read to its end: the connection can be reused
                break
            data += piece
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError):
        if wait < STALL:  # the deadline, not the stall timeout, ran out
            raise RegistryError(f"{late} ({len(data)}{of} bytes)") from None
        raise RegistryError(f"{what}: body stalled for {STALL:.0f} s after {len(data)}{of} bytes") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # IncompleteRead, ProtocolError, reset, bad gzip
        raise RegistryError(f"{what}: body cut short after {len(data)}{of} bytes ({type(exc).__name__})") from None
    finally:
        response.close()
    if len(data) > limit:
        if truncate:
            return bytes(data[:limit])
        raise RegistryError(f"{what}: body larger than {limit} bytes")
    return bytes(data)
