"""The OpenAI chat completions dialect on the wire."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from tiered.fake_upstream import FakeUpstream


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def data_lines(response: httpx2.Response) -> list[str]:
    chunks = [c for c in response.text.split("\n\n") if c]
    assert all(c.startswith("data: ") for c in chunks)
    return [c.removeprefix("data: ") for c in chunks]


def test_json_completion_shape(http: httpx2.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/chat/completions", json=chat("Hi [[fake tokens=3 cache_read=7]]"))
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini" and isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and len(choice["message"]["content"].split()) == 3
    usage = body["usage"]
    assert usage["completion_tokens"] == 3
    assert usage["prompt_tokens_details"]["cached_tokens"] == 7
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert fake.requests[-1].model == "gpt-4o-mini"


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_chunks(http: httpx2.Client, include_usage: bool) -> None:
    body = chat("Hi [[fake tokens=4]]", stream=True, stream_options={"include_usage": include_usage})
    lines = data_lines(http.post("/v1/chat/completions", json=body))
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    if include_usage:
        *content, usage = chunks
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 4
        assert all(c["usage"] is None for c in content)
    else:
        content = chunks
        assert all("usage" not in c for c in content)
    assert content[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in content)
    assert len(text.split()) == 4


def test_structured_triage_and_caller_schema(http: httpx2.Client) -> None:
    caller = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    schema = {
        "type": "object",
        "properties": {"confidence": {"type": "number"}, "answer": {"anyOf": [caller, {"type": "null"}]}},
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "triage", "schema": schema}}
    body = chat("count [[fake confidence=0.9]]", response_format=response_format)
    content = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    payload = json.loads(content)
    assert payload["confidence"] == 0.9 and isinstance(payload["answer"]["n"], int)


def test_refusal_and_forced_tool(http: httpx2.Client) -> None:
    refusal = http.post("/v1/chat/completions", json=chat("[[fake fault=refusal]]")).json()
    message = refusal["choices"][0]["message"]
    assert message["content"] is None and message["refusal"]
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    required = http.post("/v1/chat/completions", json=chat("weather?", tools=[tool], tool_choice="required")).json()
    choice = required["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": [{"role": "alien", "content": "x"}]}, "messages.0.role"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, "max_tokens"),
    ],
)
def test_validation_errors(http: httpx2.Client, body: dict[str, Any], param: str) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_malformed_chunk(http: httpx2.Client) -> None:
    lines = data_lines(http.post("/v1/chat/completions", json=chat("[[fake fault=malformed after=2]]", stream=True)))
    assert len(lines) == 3
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-1])
