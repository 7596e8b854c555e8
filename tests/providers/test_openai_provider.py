"""The OpenAI-compatible adapter: translated requests, responses and streams over a mock chat server."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from tiered.cascade.triage import TRIAGE_TOOL_NAME, build_triage_request
from tiered.errors import InvalidRequestError, UpstreamProtocolError, UpstreamStatusError
from tiered.providers import HTTPProviderSettings, OpenAIProvider, Provider
from tiered.providers.base import StreamEvent

from .helpers import API_KEY, REQUEST, ChunkedBody, Script, SleepRecorder, openai, sse_response

pytestmark = pytest.mark.anyio

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4.1-mini-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Sure.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 7,
        "total_tokens": 27,
        "prompt_tokens_details": {"cached_tokens": 5},
    },
}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "llama3",
        "choices": choices,
        **extra,
    }


def chat_sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


STREAM_CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Let me "}),
    chunk({"content": "check."}),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": ""}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "tiered"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(None, usage={"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20}),
]


def test_it_implements_the_provider_protocol() -> None:
    provider: Provider = OpenAIProvider(HTTPProviderSettings("https://x.test/v1"))
    assert provider.name == "openai"


async def test_send_translates_both_ways() -> None:
    script = Script(httpx2.Response(200, json=COMPLETION, headers={"x-request-id": "req_oa"}))
    body = {**REQUEST, "model": "openai:gpt-4.1-mini", "system": "Be brief.", "stop_sequences": ["END"]}
    response = await openai(script).send(body)
    request = script.requests[0]
    assert str(request.url) == "https://openai.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}" and "x-api-key" not in request.headers
    assert script.bodies[0] == {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 64,
        "stop": ["END"],
    }
    message = Message.model_validate(response.body)
    assert message.model == "gpt-4.1-mini-2025-04-14" and message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.usage.input_tokens == 15 and message.usage.cache_read_input_tokens == 5
    assert response.request_id == "req_oa"


async def test_official_openai_gets_max_completion_tokens() -> None:
    script = Script(httpx2.Response(200, json=COMPLETION))
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(script))
    await OpenAIProvider(HTTPProviderSettings("https://api.openai.com/v1"), client).send(REQUEST)
    assert script.bodies[0]["max_completion_tokens"] == 64 and "max_tokens" not in script.bodies[0]
    assert "authorization" not in script.requests[0].headers


async def test_pass_through_authorization_and_no_anthropic_key() -> None:
    script = Script(httpx2.Response(200, json=COMPLETION))
    headers = {"Authorization": "Bearer client", "x-api-key": "anthropic-client-key", "OpenAI-Project": "p1"}
    await openai(script).send(REQUEST, headers=headers)
    sent = script.requests[0].headers
    assert sent["authorization"] == "Bearer client" and sent["openai-project"] == "p1"
    assert "x-api-key" not in sent and API_KEY not in str(sent)


async def test_triage_request_uses_structured_outputs() -> None:
    script = Script(httpx2.Response(200, json=COMPLETION))
    await openai(script).send(build_triage_request(REQUEST, "gpt-4.1-mini"))
    response_format = script.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == TRIAGE_TOOL_NAME
    assert response_format["json_schema"]["strict"] is True


async def test_triage_tool_mode_forces_the_function() -> None:
    script = Script(httpx2.Response(200, json=COMPLETION))
    await openai(script).send(build_triage_request(REQUEST, "llama3", mode="tool"))
    sent = script.bodies[0]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": TRIAGE_TOOL_NAME}}
    assert sent["parallel_tool_calls"] is False
    assert sent["tools"][0]["function"]["name"] == TRIAGE_TOOL_NAME


async def test_untranslatable_request_is_an_invalid_request() -> None:
    body = {**REQUEST, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with pytest.raises(InvalidRequestError, match=r"tools\.0\.type"):
        await openai(Script()).send(body)


async def test_upstream_errors_are_mapped_with_openai_shape() -> None:
    error = {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    script = Script(httpx2.Response(429, json=error, headers={"x-request-id": "req_9", "retry-after": "2"}))
    sleep = SleepRecorder()
    with pytest.raises(UpstreamStatusError) as info:
        await openai(script, sleep, max_retries=0).send(REQUEST)
    assert info.value.status == 429 and info.value.error_type == "requests"
    assert info.value.request_id == "req_9" and "OPENAI" not in info.value.message
    assert "Rate limit reached" in info.value.message


async def test_unreadable_completion_is_a_protocol_error() -> None:
    bad = {**COMPLETION, "choices": []}
    with pytest.raises(UpstreamProtocolError, match="no choices") as info:
        await openai(Script(httpx2.Response(200, json=bad))).send(REQUEST)
    assert info.value.provider == "openai" and info.value.model == REQUEST["model"]


async def collect(provider: OpenAIProvider, body: dict[str, Any] | None = None) -> list[StreamEvent]:
    async with provider.stream(body or REQUEST) as stream:
        return [event async for event in stream]


async def test_stream_is_translated_into_messages_events() -> None:
    script = Script(sse_response(chat_sse(*STREAM_CHUNKS)))
    events = await collect(openai(script))
    assert script.bodies[0]["stream"] is True and script.bodies[0]["stream_options"] == {"include_usage": True}
    assert [e.event for e in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    for event in events:
        EVENT_ADAPTER.validate_python(json.loads(event.data))
        assert json.loads(event.data) == event.json()
    tool_start = events[5].json()["content_block"]
    assert tool_start == {"type": "tool_use", "id": "call_a", "name": "lookup", "input": {}}
    arguments = "".join(e.json()["delta"]["partial_json"] for e in events[6:8])
    assert json.loads(arguments) == {"q": "tiered"}
    final = events[-2].json()
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"]["input_tokens"] == 11 and final["usage"]["output_tokens"] == 9


async def test_stream_without_done_still_ends_after_a_finish_reason() -> None:
    body = chat_sse(chunk({"content": "ok"}), chunk({}, finish="stop"), done=False)
    events = await collect(openai(Script(sse_response(body))))
    assert events[-1].event == "message_stop" and events[-2].json()["delta"]["stop_reason"] == "end_turn"


async def test_stream_cut_before_finish_is_a_protocol_error() -> None:
    body = chat_sse(chunk({"content": "o"}), done=False)
    with pytest.raises(UpstreamProtocolError, match="finish_reason") as info:
        await collect(openai(Script(sse_response(body))))
    assert info.value.model == REQUEST["model"]


async def test_error_chunk_mid_stream() -> None:
    error = {"error": {"message": "server overloaded", "type": "overloaded_error"}}
    body = chat_sse(chunk({"content": "o"}), error, done=False)
    with pytest.raises(UpstreamStatusError, match="server overloaded") as info:
        await collect(openai(Script(sse_response(body))))
    assert info.value.error_type == "overloaded_error" and info.value.status == 529


async def test_non_json_chunk_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="not JSON"):
        await collect(openai(Script(sse_response(b"data: {oops\n\n"))))


async def test_leaving_early_closes_the_upstream_stream() -> None:
    body = ChunkedBody([chat_sse(c, done=False) for c in STREAM_CHUNKS])
    async with openai(Script(sse_response(body))).stream(REQUEST) as stream:
        async for event in stream:
            if event.event == "content_block_delta":
                break
    assert body.closed and body.sent == 2
