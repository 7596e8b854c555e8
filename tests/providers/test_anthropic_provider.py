"""The Anthropic adapter: headers and auth modes, passthrough helpers, and the stream relay."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import anyio
import httpx2
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tiered.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from tiered.providers import AnthropicProvider, HTTPProviderSettings, Provider
from tiered.providers.base import StreamEvent

from .helpers import (
    API_KEY,
    MESSAGE,
    REQUEST,
    SSE_HEAD,
    ChunkedBody,
    LoopbackServer,
    Script,
    SleepRecorder,
    anthropic,
    chunked,
    drain,
    message_stream_events,
    sse_body,
    sse_event,
    sse_response,
)

pytestmark = pytest.mark.anyio

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def test_it_implements_the_provider_protocol() -> None:
    provider: Provider = AnthropicProvider(HTTPProviderSettings("https://x.test"))
    assert provider.name == "anthropic"


# --- requests and headers ---------------------------------------------------------------------------------


async def test_send_posts_the_body_with_the_server_key() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE, headers={"request-id": "req_1", "anthropic-ratelimit-x": "9"}))
    response = await anthropic(script).send({**REQUEST, "stream": False, "custom_field": {"kept": True}})
    request = script.requests[0]
    assert request.method == "POST" and str(request.url) == "https://anthropic.test/v1/messages"
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert script.bodies[0] == {**REQUEST, "custom_field": {"kept": True}}
    Message.model_validate(response.body)
    assert response.request_id == "req_1" and response.headers["anthropic-ratelimit-x"] == "9"


async def test_pass_through_x_api_key_replaces_the_server_key() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE))
    await anthropic(script).send(REQUEST, headers={"X-Api-Key": "client-key"})
    assert script.requests[0].headers["x-api-key"] == "client-key"
    assert API_KEY not in str(script.requests[0].headers)


async def test_pass_through_authorization_sends_no_server_key() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE))
    await anthropic(script).send(REQUEST, headers={"authorization": "Bearer client-token"})
    headers = script.requests[0].headers
    assert headers["authorization"] == "Bearer client-token" and "x-api-key" not in headers


async def test_version_and_beta_headers_are_forwarded_but_not_others() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE))
    extra = {
        "anthropic-version": "2099-01-01",
        "anthropic-beta": "files-api-2025-04-14,context-1m-2025-08-07",
        "anthropic-dangerous-direct-browser-access": "true",
        "host": "evil.test",
        "content-length": "1",
        "x-forwarded-for": "1.2.3.4",
    }
    await anthropic(script).send(REQUEST, headers=extra)
    headers = script.requests[0].headers
    assert headers["anthropic-version"] == "2099-01-01"
    assert headers["anthropic-beta"] == "files-api-2025-04-14,context-1m-2025-08-07"
    assert headers["anthropic-dangerous-direct-browser-access"] == "true"
    assert headers["host"] == "anthropic.test" and "x-forwarded-for" not in headers


async def test_no_key_configured_sends_none() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE))
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(script))
    await AnthropicProvider(HTTPProviderSettings("https://anthropic.test"), client).send(REQUEST)
    assert "x-api-key" not in script.requests[0].headers


async def test_default_headers_are_sent() -> None:
    script = Script(httpx2.Response(200, json=MESSAGE))
    await anthropic(script, default_headers={"X-Team": "search"}).send(REQUEST)
    assert script.requests[0].headers["x-team"] == "search"


async def test_count_tokens_and_list_models_pass_json_through() -> None:
    models = {"data": [{"type": "model", "id": "claude-haiku-4-5"}], "has_more": False}
    script = Script(httpx2.Response(200, json={"input_tokens": 42}), httpx2.Response(200, json=models))
    provider = anthropic(script)
    counted = await provider.count_tokens(REQUEST, headers={"anthropic-beta": "b1"})
    listed = await provider.list_models(headers={"x-api-key": "client"}, params={"limit": "5"})
    assert counted.body == {"input_tokens": 42} and listed.body == models
    count_request, list_request = script.requests
    assert str(count_request.url) == "https://anthropic.test/v1/messages/count_tokens"
    assert count_request.headers["anthropic-beta"] == "b1"
    assert list_request.method == "GET" and str(list_request.url) == "https://anthropic.test/v1/models?limit=5"
    assert list_request.headers["x-api-key"] == "client" and list_request.content == b""


# --- streams ----------------------------------------------------------------------------------------------


async def test_stream_relays_every_event_byte_for_byte() -> None:
    events = message_stream_events("Hello there")
    script = Script(sse_response(sse_body(events)))
    async with anthropic(script).stream(REQUEST) as stream:
        received = [event async for event in stream]
        assert stream.request_id == "req_stream" and stream.headers["content-type"] == "text/event-stream"
    assert [event.event for event in received] == [name for name, _ in events]
    assert [event.data for event in received] == [json.dumps(data).encode() for _, data in events]
    for event in received:
        if event.event != "ping":  # the SDK's event union leaves pings out
            EVENT_ADAPTER.validate_python(event.json())
    assert script.bodies[0] == {**REQUEST, "stream": True}
    assert script.requests[0].headers["accept"] == "text/event-stream"


async def test_stream_stops_after_message_stop() -> None:
    body = sse_body(message_stream_events()) + sse_event("ping", {"type": "ping"})
    async with anthropic(Script(sse_response(body))).stream(REQUEST) as stream:
        names = [event.event async for event in stream]
        assert [event async for event in stream] == []
    assert names[-1] == "message_stop"


async def test_mid_stream_error_event_raises_with_its_type() -> None:
    events = message_stream_events()[:4]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_e"}
    script = Script(sse_response(sse_body([*events, ("error", error)])))
    received: list[StreamEvent] = []
    with pytest.raises(UpstreamStatusError) as info:
        await drain(anthropic(script), REQUEST, received)
    assert len(received) == 4 and len(script.requests) == 1
    assert info.value.error_type == "overloaded_error" and info.value.status == 529
    assert info.value.request_id == "req_e" and info.value.retryable
    assert "Overloaded" in info.value.message


async def test_stream_that_ends_before_message_stop_is_a_protocol_error() -> None:
    body = sse_body(message_stream_events()[:5])
    with pytest.raises(UpstreamProtocolError, match="before message_stop"):
        await drain(anthropic(Script(sse_response(body))), REQUEST)


@pytest.mark.parametrize(
    ("failure", "mapped"),
    [
        (httpx2.ReadError("connection reset"), UpstreamConnectionError),
        (httpx2.ReadTimeout("idle"), UpstreamTimeoutError),
    ],
)
async def test_a_failure_mid_stream_is_mapped_and_not_retried(failure: Exception, mapped: type[UpstreamError]) -> None:
    chunks = [sse_event(name, data) for name, data in message_stream_events()[:3]]
    script = Script(sse_response(ChunkedBody(chunks, fail_with=failure)))
    sleep = SleepRecorder()
    received: list[StreamEvent] = []
    with pytest.raises(mapped) as info:
        await drain(anthropic(script, sleep), REQUEST, received)
    assert len(received) == 3 and len(script.requests) == 1 and sleep.calls == []
    assert info.value.__cause__ is failure and not info.value.retryable


async def test_leaving_the_stream_early_closes_the_response_at_once() -> None:
    chunks = [sse_event(name, data) for name, data in message_stream_events()]
    body = ChunkedBody(chunks)
    async with anthropic(Script(sse_response(body))).stream(REQUEST) as stream:
        async for event in stream:
            if event.event == "content_block_start":
                break
        open_inside = not body.closed
    assert open_inside and body.closed and body.sent == 2


async def test_cancelling_a_waiting_reader_closes_the_response() -> None:
    body = ChunkedBody([sse_event(name, data) for name, data in message_stream_events()[:2]], hang=True)
    provider = anthropic(Script(sse_response(body)))
    with anyio.CancelScope() as scope:
        async with provider.stream(REQUEST) as stream:
            await stream.__anext__()
            await stream.__anext__()
            scope.cancel()
            await stream.__anext__()  # waits on the silent upstream until the cancellation lands
    assert scope.cancelled_caught and body.closed


async def test_an_exception_in_the_consumer_closes_the_response() -> None:
    body = ChunkedBody([sse_event(name, data) for name, data in message_stream_events()])

    async def consume() -> None:
        async with anthropic(Script(sse_response(body))).stream(REQUEST) as stream:
            await stream.__anext__()
            raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer"):
        await consume()
    assert body.closed


async def test_json_answer_to_a_stream_request_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="JSON instead of an event stream"):
        await drain(anthropic(Script(httpx2.Response(200, json=MESSAGE))), REQUEST)


async def test_an_oversized_event_is_refused() -> None:
    body = b"event: content_block_delta\ndata: " + b"x" * 5000
    with pytest.raises(UpstreamProtocolError, match="max_event_bytes"):
        await drain(anthropic(Script(sse_response(body)), max_event_bytes=1000), REQUEST)


# --- real loopback sockets --------------------------------------------------------------------------------


async def test_loopback_stream_and_early_close() -> None:
    closed = asyncio.Event()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        for name, data in message_stream_events()[:3]:
            writer.write(chunked(sse_event(name, data)))
        await writer.drain()
        await reader.read()  # returns b"" once the client has dropped the connection
        closed.set()

    async with LoopbackServer(respond) as server:
        provider = AnthropicProvider(HTTPProviderSettings(server.url, api_key=API_KEY))
        try:
            async with provider.stream(REQUEST) as stream:
                first = await stream.__anext__()
                assert first.event == "message_start" and stream.request_id == "req_loop"
            with anyio.fail_after(5):
                await closed.wait()
        finally:
            await provider.aclose()


async def test_loopback_connection_dropped_mid_stream() -> None:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        for name, data in message_stream_events()[:2]:
            writer.write(chunked(sse_event(name, data)))
        await writer.drain()

    async with LoopbackServer(respond) as server:
        provider = AnthropicProvider(HTTPProviderSettings(server.url))
        received: list[StreamEvent] = []
        try:
            with pytest.raises(UpstreamConnectionError, match="dropped the connection"):
                await drain(provider, REQUEST, received)
        finally:
            await provider.aclose()
    assert [event.event for event in received] == ["message_start", "content_block_start"]


async def test_loopback_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleep = SleepRecorder()
    provider = AnthropicProvider(HTTPProviderSettings(f"http://127.0.0.1:{port}", max_retries=1), sleep=sleep)
    try:
        with pytest.raises(UpstreamConnectionError, match="could not be reached") as info:
            await provider.send(REQUEST)
    finally:
        await provider.aclose()
    assert isinstance(info.value.__cause__, httpx2.ConnectError) and len(sleep.calls) == 1


# --- any chunking of the upstream body --------------------------------------------------------------------

_STREAM_BODY = sse_body(message_stream_events("Chunk boundaries can fall anywhere, even inside a UTF-8 é."))
_EXPECTED = [(name, json.dumps(data).encode()) for name, data in message_stream_events(
    "Chunk boundaries can fall anywhere, even inside a UTF-8 é.")]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(_STREAM_BODY)), max_size=40), crlf=st.booleans())
def test_stream_events_are_the_same_whatever_the_chunking(cuts: list[int], crlf: bool) -> None:
    body = _STREAM_BODY.replace(b"\n", b"\r\n") if crlf else _STREAM_BODY
    positions = sorted({cut % (len(body) + 1) for cut in cuts})
    chunks = [body[a:b] for a, b in zip([0, *positions], [*positions, len(body)], strict=True) if b > a]

    async def run() -> list[tuple[str, bytes]]:
        events = await drain(anthropic(Script(sse_response(ChunkedBody(chunks)))), REQUEST)
        return [(event.event, event.data) for event in events]

    assert anyio.run(run) == _EXPECTED


async def test_ready_takes_the_received_events_up_to_message_stop() -> None:
    body = sse_body(message_stream_events()) + sse_event("ping", {"type": "ping"})
    async with anthropic(Script(sse_response(body))).stream(REQUEST) as stream:
        first = await anext(aiter(stream))
        rest = stream.ready()
        assert [first.event, *(e.event for e in rest)] == [name for name, _ in message_stream_events()]
        assert stream.ready() == [] and [event async for event in stream] == []


async def test_ready_leaves_an_error_event_for_the_next_read_to_raise() -> None:
    events = message_stream_events()[:3]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    async with anthropic(Script(sse_response(sse_body([*events, ("error", error)])))).stream(REQUEST) as stream:
        first = await anext(aiter(stream))
        assert [first.event, *(e.event for e in stream.ready())] == [name for name, _ in events]
        with pytest.raises(UpstreamStatusError):
            await anext(aiter(stream))


async def test_a_direct_transport_is_called_without_the_client() -> None:
    """With ``direct``, calls skip the client's send (cookies, redirects, hooks) yet keep the retries."""

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("the client's own send was used")

    script = Script(
        httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        httpx2.Response(200, json=MESSAGE, headers={"set-cookie": "session=abc; Path=/"}),
    )
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(refuse))
    provider = AnthropicProvider(
        HTTPProviderSettings("https://anthropic.test", api_key=API_KEY),
        client,
        sleep=SleepRecorder(),
        random=lambda: 1.0,
        direct=httpx2.MockTransport(script),
    )
    response = await provider.send(REQUEST)
    assert response.body == MESSAGE and len(script.requests) == 2
    sent = script.requests[1]
    assert str(sent.url) == "https://anthropic.test/v1/messages" and sent.headers["host"] == "anthropic.test"
    assert sent.headers["x-api-key"] == API_KEY and sent.extensions["timeout"]["read"] == 600.0
    assert not client.cookies  # nothing of one call's response leaks into the next call
