"""One HTTP/1.1 client connection: an asyncio protocol that writes requests and parses responses.

The response is parsed by ``httptools`` (llhttp, in C) as the bytes arrive in :meth:`buffer_updated`; the
body is buffered here until the response stream takes it. Everything the event loop tells us (data, EOF, a
lost connection, a full write buffer) only updates this object's state and wakes the one waiting task: no
task per connection, no polling, no syscall of our own. A connection closed by the server while idle is
therefore known to be dead as soon as the loop has seen it (``closed``), and one that dies just as a request is
written on it fails with ``stale`` set, so the caller can replay the request elsewhere.

Failures are kept as (httpx2 exception type, message) and raised by the caller, who has the request to
attach.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, TypeAlias, cast

import httptools
import httpx2

__all__ = ["Failure", "H1Connection", "Origin", "encode_head"]

Origin: TypeAlias = tuple[bytes, bytes, int]
"""(scheme, host, port): connections are pooled per origin."""

Failure: TypeAlias = tuple[type[httpx2.TransportError], str]

# Reading from the socket pauses while this much body is buffered and unread (a slow consumer must not make a
# fast upstream fill memory); it resumes once the consumer has taken the buffer.
HIGH_WATER: Final = 256 * 1024
# A kept-alive connection lost without any response this soon after the request was written was closed by the
# server while idle (its FIN crossed our request). Later, the server may have acted on the request before
# dying, so it is not replayed.
STALE_WINDOW_S = 1.0
_NO_BODY_STATUSES: Final = frozenset({204, 304})


def encode_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request line and headers, ready to write; :class:`httpx2.LocalProtocolError` if a name or value
    would break the framing (CR, LF or NUL in it)."""
    fields = b"".join([b"%b: %b\r\n" % header for header in headers])
    head = b"%b %b HTTP/1.1\r\n%b\r\n" % (method.encode("ascii"), target, fields)
    # Two C-speed counts instead of a scan of every header: each line ends in exactly one CRLF. (find, not `in`,
    # for the NUL: on bytes, `in` first tries its operand as an integer and builds a TypeError to drop.)
    lines = len(headers) + 2
    if head.count(b"\n") != lines or head.count(b"\r") != lines or head.find(b"\0") >= 0 or " " in method:
        raise httpx2.LocalProtocolError("a request header (or the method) contains CR, LF or NUL; remove it")
    return head


class H1Connection(asyncio.BufferedProtocol):
    """The state of one connection and of the response it is reading (one at a time, no pipelining).

    ``read_buffer`` receives the socket's bytes (``recv_into``: no bytes object per read, where ``recv`` would
    allocate its full maximum size first); the parser consumes them before the loop reads again, so connections
    of one event loop can share it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        on_close: Callable[[H1Connection], None],
        read_buffer: memoryview,
    ) -> None:
        self.loop = loop
        self._read_buffer = read_buffer
        self.origin = origin
        self._on_close: Callable[[H1Connection], None] | None = on_close
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: asyncio.Future[None] = loop.create_future()  # resolved once the socket is really closed
        self.served = 0  # responses read to the end on this connection
        self.idle_since = 0.0
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[bool] | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._write_paused = False
        self._reading_paused = False
        self._parser_clean = False
        self._limit: float | None = None  # the limit of the wait in progress
        self._data_at = 0.0  # when body bytes last arrived (quiet waits time out after silence, see _on_timer)
        self._reset(head_request=False)

    def _reset(self, *, head_request: bool) -> None:
        self.status = 0
        self.reason = b""
        self.http_version = b"HTTP/1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.message_done = False
        self.keep_alive = False
        self.failure: Failure | None = None
        # Closed at once and before any byte of the response, after serving others: see STALE_WINDOW_S.
        self.stale = False
        self._started_at = 0.0
        self._reuse_forbidden = False
        self._head_request = head_request
        self._received = False
        self._informational = False
        self._ignore = False
        self._chunks: list[bytes] = []
        self.buffered = 0
        self.encoded = False  # the body has a content-encoding (other than identity)
        # Set by a reader that wants the body whole: arriving data then wakes it only at the end of the
        # response, on a failure, or when HIGH_WATER bytes wait (not once per chunk, as a stream reader needs).
        self.quiet = False

    # --- the client side -----------------------------------------------------------------------------------

    def start(self, *, head_request: bool) -> None:
        """Expect a new response (the previous one, if any, was read to its end)."""
        # the parser of a response that ended as its framing said reads the next one as well (llhttp resets itself
        # between messages); after anything else (a HEAD response, a failure) a new one starts clean
        reuse = self._parser is not None and self._parser_clean and not self._head_request
        self._reset(head_request=head_request)
        self._started_at = self.loop.time()
        if not reuse:
            self._parser = httptools.HttpResponseParser(self)
        self._parser_clean = False
        if self.closed:
            self.failure = self._lost_failure(None)

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closed:
            transport.write(data)

    @property
    def write_paused(self) -> bool:
        return self._write_paused and not self.closed

    @property
    def reusable(self) -> bool:
        """Read to the end, and neither side asked to close."""
        return (
            self.message_done
            and self.keep_alive
            and not self.closed
            and self.failure is None
            and not self._reuse_forbidden
            and not self._reading_paused
        )

    def settled(self) -> bool:
        """The response head arrived, or the request failed."""
        return self.headers_done or self.failure is not None

    def forbid_reuse(self) -> None:
        """The request was not sent in full (the server answered early): its framing is lost."""
        self._reuse_forbidden = True

    def take(self) -> bytes:
        """The body bytes received so far and not yet taken."""
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self.buffered = 0
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, limit_s: float | None) -> bool:
        """Wait for news (data, end of the response, a failure, room to write); ``False`` after ``limit_s``."""
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self._waiter = waiter
        self._limit = limit_s
        if limit_s is None:
            self._deadline = None
        else:
            # One timer per connection, moved only when a wait needs it earlier: arming and cancelling a timer
            # for every wait would cost more than the rest of a kept-alive request. When it fires too early
            # for the wait in progress it is set again for that wait's deadline (see _on_timer).
            deadline = self._deadline = self.loop.time() + limit_s
            if self._timer is None or self._timer_when > deadline:
                self._arm(deadline)
        try:
            return await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._on_timer)
        self._timer_when = when

    def _on_timer(self) -> None:
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return  # nobody waits under a limit: the next wait arms a new timer
        if self.quiet and self._limit is not None:
            # a quiet wait is not woken by data: its limit counts from the last bytes received, as a wait per
            # chunk would
            deadline = self._deadline = max(deadline, self._data_at + self._limit)
        if self.loop.time() >= deadline:
            waiter.set_result(False)
        else:
            self._arm(deadline)

    def close(self) -> None:
        """Drop the connection now (an unfinished response cannot be resumed on it)."""
        if self.transport is not None and not self.closed:
            self.transport.close()
        elif self.transport is None and not self.lost.done():
            self.lost.set_result(None)
        if self._parser is not None and not self.message_done and self.failure is None:
            self.failure = (httpx2.ReadError, "the connection was closed while the response was being read")
        self._mark_closed()
        self._wake()

    def _mark_closed(self) -> None:
        self.closed = True
        self._parser = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback(self)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _fail(self, failure: Failure) -> None:
        if self.failure is None:
            self.failure = failure
        self._wake()

    def _lost_failure(self, exc: Exception | None) -> Failure:
        if not self._received:
            self.stale = self.served > 0 and self.loop.time() - self._started_at <= STALE_WINDOW_S
            return httpx2.RemoteProtocolError, "Server disconnected without sending a response."
        if exc is not None:
            return httpx2.ReadError, str(exc) or type(exc).__name__
        return httpx2.RemoteProtocolError, "peer closed connection without sending complete message body"

    # --- asyncio protocol callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's do not subclass asyncio.Transport, hence no isinstance check).
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._feed(self._read_buffer[:nbytes])

    def _feed(self, data: memoryview) -> None:
        parser = self._parser
        if parser is None or self.message_done:
            # Bytes nobody asked for (on an idle connection, or after a complete response): drop it.
            self.keep_alive = False
            self.close()
            return
        self._received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail((httpx2.RemoteProtocolError, "the server switched protocols, which is not supported"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail((httpx2.RemoteProtocolError, f"malformed HTTP response: {exc}"))
            self.close()
        if self.quiet and not self.message_done and self.buffered <= HIGH_WATER:
            self._data_at = self.loop.time()
            return
        self._wake()

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        parser_active = self._parser is not None and not self.message_done
        self._mark_closed()
        if parser_active:
            if self.headers_done and self._framed_by_eof():
                # A body without length or chunks ends with the connection (llhttp never keeps those alive).
                self._complete()
            else:
                self._fail(self._lost_failure(exc))
        self._wake()

    def _framed_by_eof(self) -> bool:
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
                return False
        return True

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake()

    # --- httptools callbacks ---------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.headers_done:
            # Bytes after the response (a second response to one request): ignored, and the connection dropped.
            self._ignore = True
            self.keep_alive = False
            return
        self.headers = []
        self.reason = b""

    def on_status(self, status: bytes) -> None:
        if not self._ignore:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._ignore:
            self.headers.append((name, value))
            if len(name) == 16 and name.lower() == b"content-encoding" and value.strip().lower() != b"identity":
                self.encoded = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        if self._ignore or parser is None:
            return
        status = parser.get_status_code()
        if 100 <= status < 200:
            # 100 Continue and friends precede the real response; llhttp then completes an empty message.
            self._informational = True
            return
        self.status = status
        self.headers_done = True
        self.keep_alive = parser.should_keep_alive()
        version = parser.get_http_version()
        if version != "1.1":
            self.http_version = b"HTTP/" + version.encode("ascii")
        if self._head_request or status in _NO_BODY_STATUSES:
            # llhttp does not know the request method: it would wait for a HEAD response's announced body.
            self._complete()
            return

    def on_body(self, body: bytes) -> None:
        if self.message_done:
            self.keep_alive = False
            return
        self._chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
        elif not self.message_done:
            self._complete()
            self._parser_clean = True

    def _complete(self) -> None:
        self.message_done = True
        self.served += 1
        self._ignore = True
