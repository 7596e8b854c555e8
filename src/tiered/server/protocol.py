"""tiered's HTTP/1.1 server protocol: uvicorn's httptools protocol, plus a bound on the request head, responses
written in one piece, and disconnect hooks.

Why it exists: uvicorn has no setting for any of the three. httptools puts no limit on a request line plus
headers (a client could make the proxy buffer hundreds of megabytes before any application code runs); the one
limit uvicorn offers, ``h11_max_incomplete_event_size``, applies only to its h11 protocol, which answers a
plain-text 400 rather than 431 in the API's error shape and puts a pure-Python parser on the hot path.
Wrapping an ``HttpToolsProtocol`` instead of extending it would mean replacing its parser (httptools calls
back the object it was made for) and redoing its error handling. So this module gives uvicorn's documented
``http=`` setting (which takes a protocol class) ``TieredHttpProtocol``: ``HttpToolsProtocol`` extended
through its public surface only (asyncio's ``Protocol`` methods, httptools' parser callbacks,
``on_response_complete`` and ``send_400_response``); uvicorn's own request-response cycle writes every
response, unchanged (``tests/proxy/test_coalescing.py`` checks the wire bytes are uvicorn's, and
``test_server_protocol_surface`` that nothing private is overridden).

- **Head bound**: the head's bytes, and only those (see :mod:`.head_bound`), are counted; past
  ``MAX_HEAD_BYTES`` the answer is 431 in the Anthropic error shape (after any responses owed to earlier
  pipelined requests) and the connection closes.
- **One write per answer**: the connection's transport is a :class:`~.coalescing.CoalescingTransport`, which
  sends a response's head with its body.
- **Disconnect hooks**: each request's scope carries a list under ``DISCONNECT_HOOKS``: callables run when the
  client's connection is lost before the response is complete. A handler registers one to cancel its upstream
  work, where an ASGI app would otherwise keep a task waiting on ``receive()`` for ``http.disconnect`` (a task
  per request, on the hot path).

What keeps it: its tests (the wire bytes, the head bound read by read, the soak and keep-alive runs:
``tests/security/test_head_bound.py``, ``tests/proxy/test_keepalive_bodies.py``,
``tests/reliability/test_keepalive_soak.py``) and one measurement, ``bench/protocol_instructions.py``
(callgrind; the protocol alone, so the count repeats to the instruction): against the cycle subclass this module
replaced, a JSON answer of known length went from 264.7 k to 255.0 k instructions and an event stream of 20
events from 496.6 k to 416.2 k, one write per JSON answer in both. A change here must not raise them. (The whole
proxy, ``bench/instructions.py``, moves by a few percent between identical runs: too coarse for this.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .coalescing import CoalescingTransport
from .head_bound import FIELD_OVERHEAD, HeadBound

__all__ = ["DISCONNECT_HOOKS", "MAX_HEAD_BYTES", "DisconnectWatch", "TieredHttpProtocol"]

DISCONNECT_HOOKS = "tiered.disconnect_hooks"

MAX_HEAD_BYTES = 64 * 1024
_LINGER_S = 2.0

_BODY = json.dumps(
    {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": f"request headers: over the limit of {MAX_HEAD_BYTES} bytes",
        },
    }
).encode()
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class TieredHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head bound (:class:`HeadBound`), disconnect hooks and a
    :class:`CoalescingTransport`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bound = HeadBound(MAX_HEAD_BYTES)
        self._refused = False  # the head over the limit was seen: nothing more is parsed
        self._answered = False  # the 431 is written

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # discard the rest of a refused request until the connection closes
        self._bound.read_begins(len(data))
        super().data_received(data)
        if self._bound.read_ends() and not self._refused:
            self._refuse()

    def _refuse(self) -> None:
        """Stop parsing; answer 431 once the responses owed to earlier (pipelined) requests are written."""
        self._refused = True
        if self.cycle is None or self.cycle.response_complete:
            self._answer()

    def _answer(self) -> None:
        """Write the 431 and half-close; keep draining input for a moment so the client can read the answer
        (closing with unread input would reset the connection and lose it)."""
        self._answered = True
        self.transport.write(_RESPONSE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_S, self.transport.close)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refused and not self._answered and self.cycle is not None and self.cycle.response_complete:
            self._answer()  # the last request before the refused one is answered

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # after a refusal, what follows the oversized head is not a request
            super().send_400_response(msg)

    # parser callbacks (httptools' HTTPProtocol): after a refusal within a read, the rest of that read is ignored

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._bound.message_begins()
        self.scope[DISCONNECT_HOOKS] = []  # type: ignore[literal-required]

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        if self._bound.head_ends(self._parsed_head):
            self._refuse()
            return
        super().on_headers_complete()

    def _parsed_head(self) -> int:
        """The head as parsed: uvicorn kept the target and every field (counted once, not per callback)."""
        headers = self.headers
        return len(self.url) + sum([len(name) + len(value) for name, value in headers]) + FIELD_OVERHEAD * len(headers)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._bound.message_ends()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        super().connection_lost(exc)
        if cycle is not None and cycle.disconnected:  # lost before the response was complete
            hooks: list[Callable[[], None]] = cycle.scope.get(DISCONNECT_HOOKS) or []  # type: ignore[assignment]
            for hook in list(hooks):
                hook()


class DisconnectWatch:
    """Calls ``on_gone`` (once) if the client disconnects before :meth:`close`: through the scope's
    ``DISCONNECT_HOOKS`` under this protocol, else with a task that waits for ``http.disconnect``."""

    __slots__ = ("_hooks", "_on_gone", "_watcher", "gone")

    def __init__(self, scope: Scope, receive: Receive, on_gone: Callable[[], object]) -> None:
        self.gone = False
        self._on_gone = on_gone
        self._hooks: list[Callable[[], None]] | None = scope.get(DISCONNECT_HOOKS)
        self._watcher: asyncio.Future[None] | None = None
        if self._hooks is not None:
            self._hooks.append(self._leave)
        else:
            self._watcher = asyncio.ensure_future(self._watch(receive))

    def _leave(self) -> None:
        if not self.gone:
            self.gone = True
            self._on_gone()

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._leave()
                return

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        elif self._hooks is not None:
            self._hooks.remove(self._leave)
