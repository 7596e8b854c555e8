"""The streamed response of the proxy's answers, and the app that serves its hot endpoints directly.

:class:`EventStreamResponse` sends an event stream with one plain asyncio watcher task for the client's
disconnect, where Starlette's ``StreamingResponse`` (under uvicorn's ASGI 2.3) opens an anyio task group per
response; on a disconnect the body is cancelled, so its ``finally`` closes the upstream calls and records the
decision. :class:`TieredApp` hands ``POST`` requests for the API endpoints straight to their handlers, past
Starlette's routing and exception middleware: the handlers answer every error themselves, in the API's own
shape, so those layers only cost time there (everything else goes through them as usual).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..fastjson import dumps
from ..streaming import FinalChunk
from .protocol import DisconnectWatch

__all__ = ["AnswerResponse", "EventStreamResponse", "TieredApp"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _raw_headers(headers: Mapping[str, str] | None, *last: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """Starlette's ``raw_headers`` for the headers tiered sets on an answer (lowercase names, values made
    printable ASCII by :func:`.common.header_value`), then ``last``: one encoding per header, without
    starlette's lower-casing and search for ``content-length`` and ``content-type`` (a response's own)."""
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
    raw.extend(last)
    return raw


class AnswerResponse(JSONResponse):
    """A JSON answer: starlette's ``JSONResponse`` written by orjson (:func:`tiered.fastjson.dumps`)."""

    def __init__(self, content: Any, *, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self.body = dumps(content)
        self.raw_headers = _raw_headers(
            headers, (b"content-length", b"%d" % len(self.body)), (b"content-type", b"application/json")
        )

    def render(self, content: Any) -> bytes:
        return dumps(content)


class EventStreamResponse(Response):
    """``text/event-stream`` from an async iterator of byte chunks, each sent as it comes."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], *, headers: Mapping[str, str] | None = None) -> None:
        self.body_iterator = body
        self.status_code = 200
        self.background = None
        self.raw_headers = _raw_headers(headers, (b"content-type", b"text/event-stream; charset=utf-8"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.create_task(self._send(send))
        watch = DisconnectWatch(scope, receive, sender.cancel)
        try:
            await sender  # if this handler is cancelled (server shutdown), asyncio cancels ``sender`` with it
        except asyncio.CancelledError:
            if not watch.gone:
                raise
            # the client left: the body was cancelled and closed; nothing more to send
        finally:
            watch.close()

    async def _send(self, send: Send) -> None:
        body = self.body_iterator
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for chunk in body:
                if type(chunk) is FinalChunk:
                    # the answer's last bytes and the end of the body in one write; the stream's own end (the
                    # decision record, closing the upstream) then runs after the client has everything
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                    async for _ in body:
                        pass  # nothing follows an end event
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            # cancelled while sending: the body waits at a yield and must still run its cleanup
            aclose: Callable[[], Awaitable[Any]] | None = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()


class TieredApp(Starlette):
    """Starlette, with ``POST`` to the paths in ``direct`` dispatched straight to their endpoints."""

    direct: dict[str, Endpoint]

    def __init__(self, *, direct: Mapping[str, Endpoint], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct = dict(direct)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.direct.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
