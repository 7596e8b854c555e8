"""Plain ASGI plumbing for one HTTP exchange: read the body, answer, stream, notice the client leaving.

The app is plain ASGI rather than a framework because it is used to benchmark a proxy: its own overhead per
request must stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tiered.fake_upstream.log import RequestRecord

__all__ = [
    "BAD_JSON",
    "Frame",
    "Headers",
    "Receive",
    "Scope",
    "Send",
    "WireExchange",
    "json_bytes",
    "parse_body",
    "play",
    "read_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = Iterable[tuple[bytes, bytes]]

_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream; charset=utf-8")
_NO_CACHE = (b"cache-control", b"no-cache")
_SLICE_S = 0.05  # longest sleep between checks for a departed client or a server shutdown


BAD_JSON: Final = object()


def parse_body(raw: bytes) -> Any:
    """The parsed JSON body, or :data:`BAD_JSON` when it is not JSON."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return BAD_JSON


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` when the client left before sending it."""
    message = await receive()
    if message["type"] == "http.disconnect":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Frame:
    """One piece of a stream, due ``at`` seconds after the stream starts. ``events`` and ``content`` say how
    many SSE events (and content events) it carries, for the request log and for faults that cut a stream."""

    data: bytes
    at: float
    events: int = 1
    content: int = 0


class WireExchange:
    """One request/response on the wire, and its record in the request log."""

    def __init__(
        self,
        receive: Receive,
        send: Send,
        record: RequestRecord,
        *,
        id_headers: tuple[bytes, ...] = (b"request-id",),
        closing: Callable[[], bool] = lambda: False,
    ) -> None:
        self._receive = receive
        self._send = send
        self.record = record
        request_id = record.request_id.encode()
        self._id_headers = [(name, request_id) for name in id_headers]
        self._closing = closing
        self._gone = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def gone(self) -> bool:
        """The client disconnected (or the server is shutting down)."""
        return self._gone.is_set() or self._closing()

    def watch(self) -> None:
        """Start listening for the client's disconnect (ASGI ``http.disconnect``)."""
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        # A server that cannot receive any more has lost the client too.
        with contextlib.suppress(Exception):
            while (await self._receive())["type"] != "http.disconnect":
                pass
        if not self.record.completed and not self.record.aborted:
            self.record.disconnected = True
        self._gone.set()

    async def close(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def respond(self, status: int, body: bytes, content_type: bytes = _JSON[1], headers: Headers = ()) -> None:
        self.record.status = status
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *self._id_headers,
                    *headers,
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body, "more_body": False})
        self.record.completed = not self._gone.is_set()

    async def json(self, status: int, value: Any, headers: Headers = ()) -> None:
        await self.respond(status, json_bytes(value), headers=headers)

    async def start_stream(self, status: int = 200, content_type: bytes = _SSE[1]) -> None:
        self.record.status = status
        self.record.stream = True
        self.watch()
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), _NO_CACHE, *self._id_headers],
            }
        )

    async def write(self, data: bytes) -> None:
        """Send part of a streamed body (a no-op once the client is gone)."""
        if not self.gone:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self) -> None:
        if not self.gone:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
            self.record.completed = True

    async def wait_until(self, deadline: float) -> bool:
        """Sleep until ``deadline`` (event loop time); ``False`` as soon as the client is gone."""
        loop = asyncio.get_running_loop()
        while True:
            if self.gone:
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(remaining, _SLICE_S))

    async def hang(self, seconds: float) -> None:
        """Say nothing for ``seconds`` (or until the client gives up), then close the connection."""
        self.watch()
        await self.wait_until(asyncio.get_running_loop().time() + seconds)
        await self.abort()

    async def abort(self) -> None:
        """Close the connection without finishing the response.

        ASGI has no message for this; with uvicorn the transport is reachable through ``send``'s owner (the
        request cycle). Elsewhere we return with the response unfinished, which servers answer by closing.
        """
        self.record.aborted = True
        owner = getattr(self._send, "__self__", None)
        transport = getattr(owner, "transport", None)
        abort = getattr(transport, "abort", None)
        if not callable(abort):
            return
        abort()
        # Let the server register the lost connection before the app returns, so that it does not log an
        # unfinished response as an application error.
        self.watch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gone.wait(), 1.0)


async def play(exchange: WireExchange, frames: Sequence[Frame], start: float) -> bool:
    """Send ``frames`` on an absolute schedule from ``start`` (event loop time), every frame already due in
    one write, so that high token rates neither drift nor cost a sleep per token. ``False`` when the client
    left before the end."""
    loop = asyncio.get_running_loop()
    record = exchange.record
    i, n = 0, len(frames)
    while i < n:
        due = start + frames[i].at  # absolute times, compared as computed, so float rounding cannot stall
        if due > loop.time() and not await exchange.wait_until(due):
            return False
        now = loop.time()
        j = i + 1
        while j < n and start + frames[j].at <= now:
            j += 1
        if exchange.gone:
            return False
        batch = frames[i:j]
        await exchange.write(b"".join(f.data for f in batch))
        record.writes += 1
        record.events += sum(f.events for f in batch)
        record.content_events += sum(f.content for f in batch)
        i = j
    return not exchange.gone
