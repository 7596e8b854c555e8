"""A lean HTTP/1.1 transport for httpx2: the proxy's upstream calls without httpcore's per-request cost.

httpx2's default transport (httpcore2 over anyio) spends most of a proxy's per-request CPU: socket stream
wrappers, h11, and a pool that polls every idle socket on every request. :class:`LeanTransport` keeps the
httpx2 API above it (``client.send``, ``aiter_bytes``, ``aread``, ``aclose``, status, headers, httpx2's own
exceptions, and content decoding, which httpx2 does in ``Response``) and does the I/O with one asyncio protocol
per connection and the C parser of ``httptools``. It runs on whatever asyncio loop is running (uvloop under
the server). The providers call :meth:`LeanTransport.send` instead: the same exchange without httpx2's
request and response models, answered as a :class:`~tiered.providers._response.UpstreamResponse`.

Behaviour:

- **Keep-alive** per origin (scheme, host, port). A connection goes back to the pool only once its response
  was read to the end and neither side said ``connection: close``; a stream closed early closes its connection,
  so the upstream stops generating. A request written on a kept-alive connection that the server had just
  closed (lost within a second, no byte of response back) is replayed once on a fresh connection, when its
  body is in memory.
- **Limits** (``httpx2.Limits``): ``max_connections`` bounds open connections (then a request waits up to the
  ``pool`` timeout, :class:`httpx2.PoolTimeout`); ``max_keepalive_connections`` bounds the idle connections
  kept *per origin*; ``keepalive_expiry`` closes idle ones, lazily.
- **Timeouts** from the request (``connect``, ``read``, ``write``, ``pool``): ``read`` bounds each wait for
  data, so a stream that keeps sending never times out.
- **TLS**: system trust by default, like httpx2 (``verify`` takes the same values), with SNI and ALPN
  ``http/1.1``.
- **No proxies**: :func:`lean_transport_or_default` returns ``None`` when the environment configures an HTTP
  proxy for the upstream, so the client falls back to httpx2's default transport, which honours it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ssl
import sys
import urllib.request
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import httpx2

from tiered.providers._h1 import H1Connection, Origin, encode_head
from tiered.providers._h1_pool import ConnectionPool
from tiered.providers._response import ResponseHeaders, UpstreamResponse

__all__ = ["LeanTransport", "lean_transport_or_default"]

_CLOSE_WAIT_S = 1.0  # bound on waiting for a dropped connection's socket to close

_NO_TIMEOUTS: Final[dict[str, float | None]] = {}
_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}
_LAST_CHUNK: Final = b"0\r\n\r\n"


class LeanTransport(httpx2.AsyncBaseTransport):
    """An HTTP/1.1 transport for ``httpx2.AsyncClient(transport=...)`` (the client's own ``limits`` and
    ``verify`` only configure its default transport: pass them here).

    ``verify`` is ``True`` (system trust, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured when ``trust_env``),
    ``False``, or an ``ssl.SSLContext`` (its ALPN protocols are set to ``http/1.1``, as httpcore does); the
    context is made at the first ``https://`` connection. ``limits`` defaults to httpx2's defaults.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = True,
        limits: httpx2.Limits | None = None,
        replay_stale: bool = False,
    ) -> None:
        """``replay_stale``: replay a request once on a fresh connection when a reused one was closed by the
        server just as the request was written, before any byte of a response. Off by default: tiered's
        providers retry such failures within their own retry budget, which a user may have set to zero."""
        limits = limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        self._replay_stale = replay_stale
        keepalive = limits.max_keepalive_connections
        self._verify = verify
        self._trust_env = trust_env
        self._ssl: ssl.SSLContext | None = None
        self._pool = ConnectionPool(
            self._ssl_context,
            max_connections=limits.max_connections,
            max_idle_per_origin=sys.maxsize if keepalive is None else keepalive,
            idle_expiry_s=limits.keepalive_expiry,
        )

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            body: bytes | None = request.content
        except httpx2.RequestNotRead:
            body = None
        timeouts = request.extensions.get("timeout") or _NO_TIMEOUTS
        conn, stream = await self._exchange(request.method, request.url, request.headers.raw, body, timeouts, request)
        return _httpx_response(conn, stream)

    async def send(
        self,
        method: str,
        url: httpx2.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
    ) -> UpstreamResponse:
        """A request whose body is in memory, without httpx2's request and response models: what the providers
        call. A body sent with a ``content-encoding`` (the request asks for none) is decoded by httpx2."""
        conn, stream = await self._exchange(method, url, headers, body, timeouts, None)
        if conn.encoded:
            return UpstreamResponse.wrap(_httpx_response(conn, stream))
        reason = conn.reason.decode("ascii", errors="ignore") or httpx2.codes.get_reason_phrase(conn.status)
        return UpstreamResponse(conn.status, ResponseHeaders(conn.headers), stream, reason_phrase=reason)

    async def _exchange(
        self,
        method: str,
        url: httpx2.URL,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        timeouts: Mapping[str, float | None],
        request: httpx2.Request | None,
    ) -> tuple[H1Connection, _ResponseStream]:
        """Write the request and wait for the response head; ``request`` (for httpx2's exceptions) is needed
        when ``body`` is ``None`` (a streamed body)."""
        origin, head, payload, chunked = _encoded(method, url, raw_headers, body, request)
        read_timeout = timeouts.get("read")
        head_request = method == "HEAD"
        fresh = False
        while True:
            conn = None if fresh else self._pool.take_idle(origin)
            if conn is None:
                conn = await self._pool.acquire(
                    origin,
                    request,
                    connect_timeout=timeouts.get("connect"),
                    pool_timeout=timeouts.get("pool"),
                    fresh=fresh,
                )
            try:
                conn.start(head_request=head_request)
                if body is not None:
                    conn.write(payload)
                else:
                    if request is None:
                        raise RuntimeError("a streamed request body needs its httpx2 request")
                    await _send_stream(conn, request, head, chunked, timeouts.get("write"))
                while not conn.headers_done:
                    if conn.failure is not None:
                        break
                    if not await conn.wait(read_timeout):
                        raise httpx2.ReadTimeout("timed out waiting for the response", request=request)
            except BaseException:
                conn.close()  # the request's state on this connection is unknown
                raise
            if conn.headers_done:
                break
            conn.close()
            if self._replay_stale and conn.stale and body is not None and not fresh:
                fresh = True
                continue
            kind, message = conn.failure or (httpx2.RemoteProtocolError, "no response")
            raise kind(message, request=request)
        return conn, _ResponseStream(conn, self._pool, request, read_timeout)

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their response is done."""
        self._pool.closed = True
        self._pool.close_idle()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = httpx2.create_ssl_context(verify=self._verify, trust_env=self._trust_env)
            context.set_alpn_protocols(["http/1.1"])
            self._ssl = context
        return self._ssl


def _encoded(
    method: str,
    url: httpx2.URL,
    raw_headers: list[tuple[bytes, bytes]],
    body: bytes | None,
    request: httpx2.Request | None,
) -> tuple[Origin, bytes, bytes, bool]:
    """The request's origin, its encoded head, what to write at once (head and body, ``b""`` when the body is
    streamed) and whether the body is chunked."""
    scheme = url.raw_scheme
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port is None:
        raise httpx2.UnsupportedProtocol(
            f"the lean transport speaks http:// and https:// only (got {url.scheme!r})", request=request
        )
    headers, chunked = _framing(raw_headers, body, url.netloc)
    try:
        head = encode_head(method, url.raw_path, headers)
    except httpx2.LocalProtocolError as exc:
        if request is not None:
            exc.request = request
        raise
    payload = b"" if body is None else head + (_chunk(body) + _LAST_CHUNK if chunked else body)
    return (scheme, url.raw_host, url.port or default_port), head, payload, chunked


def _httpx_response(conn: H1Connection, stream: _ResponseStream) -> httpx2.Response:
    return httpx2.Response(
        conn.status,
        headers=conn.headers,
        stream=stream,
        extensions={"http_version": conn.http_version, "reason_phrase": conn.reason},
    )


class _ResponseStream(httpx2.AsyncByteStream):
    """The body as it arrives; :meth:`aclose` before the end drops the connection (the upstream stops)."""

    __slots__ = ("_conn", "_done", "_dropped", "_pool", "_request", "_timeout")

    def __init__(
        self, conn: H1Connection, pool: ConnectionPool, request: httpx2.Request | None, timeout: float | None
    ) -> None:
        self._conn = conn
        self._pool = pool
        self._request = request
        self._timeout = timeout
        self._done = False
        self._dropped = False

    def __aiter__(self) -> _ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        try:
            while True:
                if self._done:
                    # Closed (from another task) or read already: the connection is no longer this response's,
                    # and may already carry another request.
                    if self._dropped:
                        raise httpx2.ReadError("the response was closed while it was being read", request=self._request)
                    raise StopAsyncIteration
                if conn.buffered:
                    return conn.take()
                if conn.message_done:
                    # Back to the pool before the caller closes the response: the next request may reuse it.
                    self._finish(reuse=True)
                    raise StopAsyncIteration
                if conn.failure is not None:
                    kind, message = conn.failure
                    raise kind(message, request=self._request)
                if not await conn.wait(self._timeout):
                    raise httpx2.ReadTimeout("timed out waiting for response data", request=self._request)
        except StopAsyncIteration:
            raise
        except BaseException:
            # Failed or cancelled: the connection can serve again only if the whole response had arrived.
            self._finish(reuse=conn.message_done)
            raise

    async def read_quietly(self) -> bytes:
        """The next body bytes, waiting with one wake-up for the end of the body (or for HIGH_WATER bytes)
        instead of one per chunk; ``b""`` at the end. For a reader that acts on the whole: a streamed triage
        already known to be shipped, read to its end."""
        conn = self._conn
        conn.quiet = True
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return b""
        finally:
            conn.quiet = False

    @property
    def complete(self) -> bool:
        """The whole response has arrived: closing the stream now keeps the connection for reuse."""
        if self._done:  # read to its end (the connection may already serve another request) or dropped
            return not self._dropped
        return self._conn.message_done

    def close_now(self) -> bool:
        """Give the connection back (or drop it) without waiting; ``False`` when it was dropped and
        :meth:`aclose` would wait for its socket to close."""
        self._finish(reuse=self._conn.message_done, replace=True)
        return not self._dropped

    async def aclose(self) -> None:
        self._finish(reuse=self._conn.message_done, replace=True)
        if self._dropped:
            # asyncio closes a socket on the loop's next turn: wait for it, so that when aclose() returns the
            # upstream has been told (an abandoned triage must stop generating now, not whenever the loop runs)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._conn.lost), _CLOSE_WAIT_S)

    def _finish(self, *, reuse: bool, replace: bool = False) -> None:
        """Release or drop the connection; ``replace``: a drop on purpose (the reader closed early) of a
        healthy connection, which the pool replaces at once (see :meth:`ConnectionPool.replace`)."""
        if not self._done:
            self._done = True
            conn = self._conn
            if reuse:
                self._pool.release(conn)
                return
            self._dropped = True
            healthy = conn.failure is None and not conn.closed
            conn.close()
            if replace and healthy:
                self._pool.replace(conn.origin)


async def _send_stream(
    conn: H1Connection, request: httpx2.Request, head: bytes, chunked: bool, write_timeout: float | None
) -> None:
    """Write a body that is not in memory, chunk by chunk, waiting while the socket's buffer is full."""
    stream = request.stream
    if not isinstance(stream, httpx2.AsyncByteStream):
        raise RuntimeError("the lean transport needs an async request body (use httpx2.AsyncClient)")
    conn.write(head)
    async for chunk in stream:
        if conn.settled():
            conn.forbid_reuse()  # answered (or failed) before the whole body was sent
            return
        if chunk:
            conn.write(_chunk(chunk) if chunked else chunk)
        while conn.write_paused:
            if not await conn.wait(write_timeout):
                raise httpx2.WriteTimeout("timed out writing the request body", request=request)
            if conn.settled():
                conn.forbid_reuse()
                return
    if chunked:
        conn.write(_LAST_CHUNK)


def _framing(
    headers: list[tuple[bytes, bytes]], body: bytes | None, netloc: bytes
) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The headers to send and whether the body goes chunked: as the request says, else ``content-length`` for
    a body in memory and chunks for a streamed one. ``host`` is added when missing (requests built with
    ``stream=`` get no automatic headers)."""
    length = chunked = host = False
    for name, value in headers:
        size = len(name)
        if size == 4 and name.lower() == b"host":
            host = True
        elif size == 17 and name.lower() == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif size == 14 and name.lower() == b"content-length":
            length = True
    if not host:
        headers = [(b"Host", netloc), *headers]
    if chunked or length:
        return headers, chunked
    if body is None:
        return [*headers, (b"Transfer-Encoding", b"chunked")], True
    if body:
        return [*headers, (b"Content-Length", str(len(body)).encode())], False
    return headers, False


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if data else b""


def lean_transport_or_default(
    base_url: str | None = None,
    *,
    verify: ssl.SSLContext | bool = True,
    trust_env: bool = True,
    limits: httpx2.Limits | None = None,
) -> LeanTransport | None:
    """A :class:`LeanTransport`, or ``None`` where httpx2's default transport must be used instead.

    Pass the result as ``httpx2.AsyncClient(transport=...)``: ``None`` lets the client build its default
    transport, which honours ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` (an explicit transport makes
    httpx2 ignore them). ``None`` is returned when ``trust_env`` is on and such a proxy applies to
    ``base_url`` (to any URL when it is not given; ``NO_PROXY`` exempts a host), or when ``httptools`` is not
    installed.
    """
    if importlib.util.find_spec("httptools") is None:
        return None
    if trust_env and _proxied(base_url):
        return None
    return LeanTransport(verify=verify, trust_env=trust_env, limits=limits)


def _proxied(base_url: str | None) -> bool:
    proxies = {key.lower(): value for key, value in urllib.request.getproxies().items() if value}
    if "*" in (item.strip() for item in proxies.get("no", "").split(",")):
        return False
    if base_url is None:
        return any(key in proxies for key in ("http", "https", "all"))
    parts = urlsplit(base_url)
    if parts.scheme not in proxies and "all" not in proxies:
        return False
    host = parts.hostname or ""
    return not (host and "no" in proxies and urllib.request.proxy_bypass(host))
