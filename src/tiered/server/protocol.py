"""uvicorn's httptools protocol with a bound on the request head, and disconnect callbacks.

httptools itself puts no limit on the size of a request line plus headers: a client could make the proxy
buffer hundreds of megabytes before any application code runs. This protocol counts the head's bytes (only
those: see :mod:`.head_bound`) and, past ``MAX_HEAD_BYTES``, answers 431 in the Anthropic error shape (after
any responses owed to earlier pipelined requests) and closes the connection.

A response whose head gives its ``content-length`` has its head written together with its body: one write
(one system call, one TCP segment) where uvicorn makes two, the head's alone (see :class:`CoalescingCycle`).

Each request's scope also carries a list under ``DISCONNECT_HOOKS``: callables run when the client's
connection is lost before the response is complete. A handler registers one to cancel its upstream work,
where an ASGI app would otherwise keep a task waiting on ``receive()`` for ``http.disconnect`` (a task per
request, on the hot path).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from .head_bound import FIELD_OVERHEAD, HeadBound

__all__ = ["DISCONNECT_HOOKS", "MAX_HEAD_BYTES", "BoundedHttpToolsProtocol", "CoalescingCycle", "DisconnectWatch"]

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


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head bound (:class:`HeadBound`), disconnect hooks and
    coalescing writes (:class:`CoalescingCycle`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bound = HeadBound(MAX_HEAD_BYTES)
        self._refused = False  # the head over the limit was seen: nothing more is parsed
        self._answered = False  # the 431 is written

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

    # parser callbacks: after a refusal within a read, the rest of that read is ignored

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
        if type(self.cycle) is RequestResponseCycle:  # the cycle just made (none for an upgrade)
            self.cycle.__class__ = CoalescingCycle

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


class _Prefixed:
    """Stands in for the transport while uvicorn writes a response's first body bytes: the held head goes
    in the same write."""

    __slots__ = ("_head", "_transport")

    def __init__(self, transport: Any, head: bytes) -> None:
        self._transport = transport
        self._head = head

    def write(self, data: bytes) -> None:
        head, self._head = self._head, b""
        self._transport.write(head + data)

    def close(self) -> None:
        self._transport.close()


class _Collect:
    """Stands in for the transport while uvicorn writes a response head: keeps it instead."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class CoalescingCycle(RequestResponseCycle):
    """uvicorn's request-response cycle, with the head of a response of known length held back until its
    body and written with it. uvicorn's own ``send`` makes the head (its header checks and framing rules); only
    the transport it writes to differs meanwhile. A whole body in one message, the usual case, is written here
    with the head (the same checks and completion as uvicorn's); anything else goes through uvicorn's ``send``
    with the head in its first write. A response without a ``content-length`` (an event stream) and the answer
    to ``HEAD`` are written as uvicorn writes them: their head must not wait."""

    _held: bytes | None = None

    async def send(self, message: Any) -> None:
        head = self._held
        if head is not None:
            self._held = None
            if not self._send_whole(head, message):
                transport = self.transport
                self.transport = _Prefixed(transport, head)  # type: ignore[assignment]
                try:
                    await super().send(message)
                finally:
                    self.transport = transport
            return
        if self.response_started or message["type"] != "http.response.start":
            await super().send(message)
            return
        transport, collect = self.transport, _Collect()
        self.transport = collect  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
        if self.chunked_encoding is False and self.scope["method"] != "HEAD" and not self.disconnected:
            self._held = collect.data
        elif collect.data:
            transport.write(collect.data)

    def _send_whole(self, head: bytes, message: Any) -> bool:
        """Write ``head`` with a body message that completes the response exactly; ``False`` (nothing done)
        for any other message or state."""
        if (
            message["type"] != "http.response.body"
            or message.get("more_body", False)
            or self.disconnected
            or self.flow.write_paused
        ):
            return False
        body = message.get("body", b"")
        if len(body) != self.expected_content_length:
            return False
        self.transport.write(head + body)
        self.expected_content_length = 0
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()
        return True


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
