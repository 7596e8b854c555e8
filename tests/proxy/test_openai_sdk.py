"""The official openai SDK, pointed at the proxy's /v1, works unchanged: JSON, streaming, tools, errors."""

from __future__ import annotations

import json
from typing import cast

import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageFunctionToolCallParam

from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-5678"


def client(proxy: ProxyThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0)


def test_chat_completion_shipped_and_escalated(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="tiered",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": '[[fake confidence=0.9 answer="Blue."]] Sky colour?'},
        ],
        max_completion_tokens=200,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Blue."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model.startswith("claude-haiku-4-5")
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert raw.headers["x-tiered-escalated"] == "false"
    triage = upstream.requests[0]
    assert triage.headers["x-api-key"] == KEY  # bearer token forwarded as the Anthropic key
    assert triage.body["system"][0] == {"type": "text", "text": "Be terse."}

    upstream.reset()
    completion = client(proxy).chat.completions.create(
        model="tiered",
        messages=[{"role": "user", "content": "[[fake haiku:confidence=0.1]] Hard one."}],
        max_tokens=100,
        stop=["END"],
    )
    assert completion.model.startswith("claude-opus-4-7")
    final = upstream.requests[1]
    assert final.body["stop_sequences"] == ["END"] and final.body["max_tokens"] == 100


@pytest.mark.parametrize(
    ("directive", "model"), [("confidence=0.95", "claude-haiku-4-5"), ("haiku:confidence=0.2", "claude-opus-4-7")]
)
def test_streaming_with_usage(proxy: ProxyThread, upstream: FakeUpstream, directive: str, model: str) -> None:
    stream = client(proxy).chat.completions.create(
        model="tiered",
        messages=[{"role": "user", "content": f"[[fake {directive} tokens=30]] Say something."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.model.startswith(model) for c in chunks)


def test_tool_calls_round_trip(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    tools: list[ChatCompletionFunctionToolParam] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    completion = client(proxy).chat.completions.create(
        model="tiered",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=tools,
        tool_choice="required",
    )
    # a forced tool choice never gets a triage: the final tier answers with a tool call
    assert [r.is_triage for r in upstream.requests] == [False]
    assert completion.choices[0].message.tool_calls
    call = completion.choices[0].message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    assert completion.choices[0].finish_reason == "tool_calls"
    follow_up = client(proxy).chat.completions.create(
        model="tiered",
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "tool_calls": [cast(ChatCompletionMessageFunctionToolCallParam, call.model_dump())]},
            {"role": "tool", "tool_call_id": call.id, "content": "4 degrees, rain"},
        ],
        tools=tools,
    )
    assert follow_up.choices[0].message.content
    sent = upstream.requests[-1].body["messages"]
    assert sent[1]["content"][0]["type"] == "tool_use" and sent[2]["content"][0]["type"] == "tool_result"


def test_response_format_json_schema(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    completion = client(proxy).chat.completions.create(
        model="tiered",
        messages=[{"role": "user", "content": "[[fake confidence=0.95]] A number please."}],
        response_format={"type": "json_schema", "json_schema": {"name": "num", "schema": schema}},
    )
    assert isinstance(json.loads(completion.choices[0].message.content or "")["n"], int)


def test_errors_use_the_openai_shape(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(proxy).chat.completions.create(
            model="tiered",
            messages=[{"role": "wizard", "content": "x"}],  # type: ignore[list-item, misc]  # an unknown role, on purpose
        )
    body = err.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert body["param"] == "messages.0.role"
    with pytest.raises(openai.BadRequestError) as err:
        client(proxy).chat.completions.create(model="tiered", messages=[{"role": "user", "content": "x"}], n=3)
    assert "n" in str(err.value)
    with pytest.raises(openai.RateLimitError) as limited:
        client(proxy).chat.completions.create(
            model="claude-opus-4-7", messages=[{"role": "user", "content": "[[fake fault=rate_limit retry_after=61]]"}]
        )
    assert limited.value.response.headers["retry-after"] == "61"


def test_models_list(proxy: ProxyThread) -> None:
    ids = [m.id for m in client(proxy).models.list()]
    assert "tiered" in ids and "tiered/three-tier" in ids
