"""Test helpers: scripted upstreams over httpx2.MockTransport, SSE bodies, an instant sleep."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import anyio
import httpx2

from tiered.providers import AnthropicProvider, HTTPProviderSettings, OpenAIProvider

API_KEY = "sk-ant-server-secret-0123456789"
ANTHROPIC_URL = "https://anthropic.test"
OPENAI_URL = "https://openai.test/v1"

Handler = Callable[[httpx2.Request], httpx2.Response]


class SleepRecorder:
    """An instant ``sleep`` that records every wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Script:
    """A MockTransport handler that answers with the given responses in order and records requests.

    An item may be an ``httpx2.Response``, an exception instance (raised as a transport error) or a callable
    taking the request.
    """

    def __init__(self, *items: Any) -> None:
        self.items = list(items)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.items:
            raise AssertionError("the upstream got more requests than scripted")
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            result: httpx2.Response = item(request)
            return result
        assert isinstance(item, httpx2.Response)
        return item

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


def client_for(handler: Handler) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


def settings(base_url: str = ANTHROPIC_URL, **overrides: Any) -> HTTPProviderSettings:
    return HTTPProviderSettings(base_url=base_url, api_key=API_KEY, **overrides)


def anthropic(script: Handler, sleep: SleepRecorder | None = None, **overrides: Any) -> AnthropicProvider:
    return AnthropicProvider(
        settings(ANTHROPIC_URL, **overrides), client_for(script), sleep=sleep or SleepRecorder(), random=lambda: 1.0
    )


def openai(script: Handler, sleep: SleepRecorder | None = None, **overrides: Any) -> OpenAIProvider:
    return OpenAIProvider(
        settings(OPENAI_URL, **overrides), client_for(script), sleep=sleep or SleepRecorder(), random=lambda: 1.0
    )


def error_response(status: int, error_type: str, message: str, **headers: str) -> httpx2.Response:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_body"}
    return httpx2.Response(status, json=body, headers=headers)


MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 3},
}

REQUEST: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n"


def message_stream_events(text: str = "Hello world") -> list[tuple[str, dict[str, Any]]]:
    """A complete Messages stream answering ``text`` in two deltas."""
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    half = len(text) // 2
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[:half]}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[half:]}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def sse_body(events: Iterable[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(sse_event(name, data) for name, data in events)


class ChunkedBody(httpx2.AsyncByteStream):
    """A streamed body that yields the given chunks, may fail after them, and records being closed."""

    def __init__(self, chunks: Iterable[bytes], *, fail_with: Exception | None = None, hang: bool = False) -> None:
        self.chunks = list(chunks)
        self.fail_with = fail_with
        self.hang = hang
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if self.closed:
                return
            self.sent += 1
            yield chunk
        if self.fail_with is not None:
            raise self.fail_with
        if self.hang:  # an upstream that stops sending but keeps the connection open
            await anyio.sleep_forever()

    async def aclose(self) -> None:
        self.closed = True


async def drain(provider: Any, body: dict[str, Any], into: list[Any] | None = None) -> list[Any]:
    """Open a stream and read it to the end, appending events to ``into`` as they come (kept on error)."""
    received = [] if into is None else into
    async with provider.stream(body) as stream:
        async for event in stream:
            received.append(event)
    return received


def sse_response(body: bytes | httpx2.AsyncByteStream, **headers: str) -> httpx2.Response:
    all_headers = {"content-type": "text/event-stream", "request-id": "req_stream", **headers}
    if isinstance(body, bytes):
        return httpx2.Response(200, headers=all_headers, content=body)
    return httpx2.Response(200, headers=all_headers, stream=body)


class LoopbackServer:
    """A raw HTTP/1.1 server on 127.0.0.1 for what a mock transport cannot show (real sockets closing).

    ``respond(reader, writer)`` gets each connection after the request head and body were read.
    """

    def __init__(self, respond: Callable[[Any, Any], Any]) -> None:
        self.respond = respond
        self.server: Any = None
        self.port = 0

    async def __aenter__(self) -> LoopbackServer:
        import asyncio

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # a connection closed unused (a pool's spare)
                writer.close()
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            try:
                await self.respond(reader, writer)
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nrequest-id: req_loop\r\n\r\n"
)
