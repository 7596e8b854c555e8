"""Keep-alive connections per origin, opened on demand and bounded.

Idle connections wait in a deque per origin, most recently used last: a request takes the warmest one (the
least likely to have been closed by the server), and the coldest sit at the left where expiry and the idle
bound trim them, lazily, whenever the pool is used; there is no timer task. A connection the server closed
while idle is skipped without a syscall (its protocol saw the EOF). With ``max_connections`` set, a request
that finds the pool full closes an idle connection of another origin or waits (``pool`` timeout) for one to be
released.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Callable

import httpx2

from tiered.providers._h1 import H1Connection, Origin

__all__ = ["ConnectionPool"]

# Shared by the pool's connections (see H1Connection): one read takes at most this much.
_READ_BUFFER_BYTES = 64 * 1024
# A replacement opened in the background (see ConnectionPool.replace) gives up after this long, quietly.
_REPLACE_CONNECT_S = 10.0


class ConnectionPool:
    """The connections of one transport. Bound to the event loop that first uses it (see :meth:`_bind`)."""

    def __init__(
        self,
        ssl_context: Callable[[], ssl.SSLContext],
        *,
        max_connections: int | None,
        max_idle_per_origin: int,
        idle_expiry_s: float | None,
    ) -> None:
        self._ssl_context = ssl_context
        self.max_connections = max_connections
        self.max_idle_per_origin = max_idle_per_origin
        self.idle_expiry_s = idle_expiry_s
        self._idle: dict[Origin, deque[H1Connection]] = {}
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_buffer = memoryview(b"")
        self._replacing: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def open_connections(self) -> int:
        """Connections open or being opened (idle or in use)."""
        return self._open

    def idle_connections(self, origin: Origin) -> int:
        return sum(1 for conn in self._idle.get(origin, ()) if not conn.closed)

    def take_idle(self, origin: Origin) -> H1Connection | None:
        """A live idle connection to ``origin``, if there is one (no await: the common case stays cheap)."""
        idle = self._idle.get(origin)
        if not idle or asyncio.get_running_loop() is not self._loop:
            return None
        now = self._loop.time()
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if self._expired(conn, now):
                conn.close()
                continue
            return conn
        return None

    async def acquire(
        self,
        origin: Origin,
        request: httpx2.Request | None,
        *,
        connect_timeout: float | None,
        pool_timeout: float | None,
        fresh: bool = False,
    ) -> H1Connection:
        """A live idle connection to ``origin`` (unless ``fresh``), else a new one."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            conn = None if fresh else self.take_idle(origin)
            if conn is not None:
                return conn
            limit = self.max_connections
            if limit is None or self._open < limit or self._evict_one():
                break
            await self._wait_for_room(loop, deadline, request)
        self._open += 1
        return await self._connect(loop, origin, request, connect_timeout)

    def release(self, conn: H1Connection) -> None:
        """Back to the pool if it can serve another request, else closed."""
        if not conn.reusable or self.closed or conn.loop is not self._loop or self.max_idle_per_origin <= 0:
            conn.close()
            return
        self._park(conn, warmest=True)

    def _park(self, conn: H1Connection, *, warmest: bool) -> None:
        """Keep ``conn`` idle: at the warm end (a connection that just served) or the cold one (a new
        replacement; it is the one closed when the origin has its fill of idle connections)."""
        now = conn.loop.time()
        conn.idle_since = now
        idle = self._idle.get(conn.origin)
        if idle is None:
            idle = self._idle[conn.origin] = deque()
        while idle and (idle[0].closed or self._expired(idle[0], now)):
            idle.popleft().close()
        if warmest:
            if len(idle) >= self.max_idle_per_origin:
                idle.popleft().close()
            idle.append(conn)
        elif len(idle) >= self.max_idle_per_origin:
            conn.close()
            return
        else:
            idle.appendleft(conn)
        self._wake_one()

    def replace(self, origin: Origin) -> None:
        """A healthy connection to ``origin`` was dropped before its response ended (a stream abandoned on
        purpose, such as a triage cut after its confidence): open another in the background, so that the
        next request finds one ready instead of paying the connection (and TLS) handshake on its path. Not
        when one is idle already, the pool is full or closed; a replacement that fails is dropped quietly
        (the next request connects and reports as usual)."""
        loop = self._loop
        if loop is None or self.closed or self.idle_connections(origin):
            return
        if self.max_connections is not None and self._open >= self.max_connections:
            return
        self._open += 1
        task = loop.create_task(self._replace(loop, origin))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        try:
            conn = await self._connect(loop, origin, None, _REPLACE_CONNECT_S)
        except (httpx2.TransportError, OSError):
            return  # closed by _connect, which gave its place back
        if self.closed or loop is not self._loop or self.max_idle_per_origin <= 0:
            conn.close()
            return
        self._park(conn, warmest=False)  # a connection that served already is preferred

    def close_idle(self) -> None:
        for task in list(self._replacing):
            task.cancel()
        for idle in self._idle.values():
            while idle:
                with contextlib.suppress(RuntimeError):  # its event loop may be closed already
                    idle.pop().close()
        self._idle.clear()

    def _expired(self, conn: H1Connection, now: float) -> bool:
        expiry = self.idle_expiry_s
        return expiry is not None and now - conn.idle_since > expiry

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        # A transport used from a new event loop (a test per loop, a sync wrapper) cannot reuse the old loop's
        # sockets: they are dropped and counting starts again.
        self.close_idle()
        self._waiters.clear()
        self._open = 0
        self._loop = loop
        self._read_buffer = memoryview(bytearray(_READ_BUFFER_BYTES))

    def _evict_one(self) -> bool:
        """Close the idle connection that waited longest, of any origin, to make room; ``False`` if none."""
        oldest: deque[H1Connection] | None = None
        for idle in self._idle.values():
            while idle and idle[0].closed:
                idle.popleft()
            if idle and (oldest is None or idle[0].idle_since < oldest[0].idle_since):
                oldest = idle
        if oldest is None:
            return False
        oldest.popleft().close()
        return True

    async def _wait_for_room(
        self, loop: asyncio.AbstractEventLoop, deadline: float | None, request: httpx2.Request | None
    ) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _expire, waiter, request)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._wake_one()  # woken and cancelled at once: pass the turn on
            raise
        finally:
            if timer is not None:
                timer.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _on_close(self, conn: H1Connection) -> None:
        if conn.loop is self._loop:
            self._open -= 1
            self._wake_one()

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, request: httpx2.Request | None, limit_s: float | None
    ) -> H1Connection:
        scheme, host, port = origin
        conn = H1Connection(loop, origin, self._on_close, self._read_buffer)
        hostname = host.decode("ascii")
        context = self._ssl_context() if scheme == b"https" else None
        try:
            async with asyncio.timeout(limit_s):
                await loop.create_connection(
                    lambda: conn, hostname, port, ssl=context, server_hostname=hostname if context else None
                )
        except BaseException as exc:
            conn.close()
            if isinstance(exc, TimeoutError):
                raise httpx2.ConnectTimeout(f"timed out connecting to {hostname}:{port}", request=request) from exc
            if isinstance(exc, OSError):  # ssl.SSLError (a failed handshake or certificate check) included
                raise httpx2.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
            raise
        return conn


def _expire(waiter: asyncio.Future[None], request: httpx2.Request | None) -> None:
    if not waiter.done():
        message = "timed out waiting for a free connection in the pool; raise max_connections or the pool timeout"
        waiter.set_exception(httpx2.PoolTimeout(message, request=request))
