"""Nagle's algorithm off (``TCP_NODELAY``) on every socket the harness itself opens.

With Nagle on, a small write that follows another unacknowledged one waits for its ACK, and the receiver may
hold that ACK back for its delayed-ACK timer (tens of milliseconds on Linux): a request written as headers then
body, or a response as several small writes, can then take milliseconds more for reasons that are the
harness's, not the proxy's. The sockets the harness opens:

- the load generator's clients (``bench/harness/loadgen.py``): ``socket_options=[NODELAY]`` on their
  transports. asyncio and uvloop already set ``TCP_NODELAY`` on the TCP connections they make; saying so here
  keeps it true whatever event loop or HTTP library the load generator runs on;
- the probe and the readiness checks (``stack.py``, ``procs.py``): :class:`NoDelayHTTPConnection`
  (``http.client`` leaves Nagle on).

The servers the harness starts set it on their side themselves (checked with ``strace -e setsockopt`` on the
accepted sockets): uvicorn's transports for the fake upstream, tiered and LiteLLM (asyncio and uvloop set
``TCP_NODELAY`` on every TCP transport), and Node's ``http`` server (``noDelay`` defaults to true) and
``fetch()`` client for Portkey. ``free_port`` only binds, it never connects.
"""

from __future__ import annotations

import http.client
import socket
from typing import Final
from urllib.parse import urlsplit

__all__ = ["NODELAY", "NoDelayHTTPConnection", "http_request", "nodelay"]

NODELAY: Final = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def nodelay(sock: socket.socket) -> socket.socket:
    """``sock`` with Nagle's algorithm turned off."""
    sock.setsockopt(*NODELAY)
    return sock


class NoDelayHTTPConnection(http.client.HTTPConnection):
    """``http.client``'s connection with ``TCP_NODELAY`` set as soon as it is connected."""

    def connect(self) -> None:
        super().connect()
        nodelay(self.sock)


def http_request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    """One plain-HTTP request on a fresh no-delay connection: status, lower-cased headers and the whole body."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"the harness speaks plain HTTP on loopback only, not {url!r}")
    connection = NoDelayHTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
