"""Complete responses both ways, checked against the official SDKs' own models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from tiered.errors import UpstreamProtocolError
from tiered.openai_compat import (
    chat_response_to_messages,
    finish_reason_for,
    messages_response_to_chat,
    stop_reason_for,
)

MESSAGE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-opus-4-7",
    "content": [
        {"type": "thinking", "thinking": "...", "signature": "s"},
        {"type": "text", "text": "Let me check. "},
        {"type": "text", "text": "One moment."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "tiered", "n": 2}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 5,
    },
}


def test_messages_response_to_chat_completion() -> None:
    completion = messages_response_to_chat(MESSAGE, created=1_700_000_000)
    parsed = ChatCompletion.model_validate(completion)
    assert parsed.id == "msg_01" and parsed.model == "claude-opus-4-7" and parsed.created == 1_700_000_000
    choice = parsed.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check. One moment."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id == "toolu_1" and call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"q": "tiered", "n": 2}  # type: ignore[union-attr]
    assert parsed.usage is not None
    assert (
        parsed.usage.prompt_tokens == 135 and parsed.usage.completion_tokens == 20 and parsed.usage.total_tokens == 155
    )
    assert parsed.usage.prompt_tokens_details is not None and parsed.usage.prompt_tokens_details.cached_tokens == 30


def test_overrides_and_tool_only_answer() -> None:
    message = {**MESSAGE, "content": [MESSAGE["content"][3]]}
    completion = messages_response_to_chat(message, created=5, model="tiered:default", completion_id="chatcmpl-x")
    assert completion["id"] == "chatcmpl-x" and completion["model"] == "tiered:default"
    assert completion["choices"][0]["message"]["content"] is None
    ChatCompletion.model_validate(completion)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
     ("refusal", "content_filter"), ("pause_turn", "stop"), ("model_context_window_exceeded", "length"),
     (None, "stop"), ("something_new", "stop")],
)  # fmt: skip
def test_finish_reasons(stop_reason: str | None, finish_reason: str) -> None:
    assert finish_reason_for(stop_reason) == finish_reason
    completion = messages_response_to_chat({**MESSAGE, "stop_reason": stop_reason}, created=0)
    assert completion["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
     ("content_filter", "refusal"), (None, "end_turn")],
)  # fmt: skip
def test_stop_reasons(finish_reason: str | None, stop_reason: str) -> None:
    assert stop_reason_for(finish_reason) == stop_reason


def test_an_empty_or_odd_message_still_gives_a_valid_completion() -> None:
    completion = messages_response_to_chat({"content": "odd", "usage": {"input_tokens": -1}}, created=0)
    ChatCompletion.model_validate(completion)
    assert completion["choices"][0]["message"]["content"] == ""
    with pytest.raises(UpstreamProtocolError):
        messages_response_to_chat([], created=0)


COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4.1",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Here.", "refusal": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": [1]}"}},
            {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}},
        ]},
        "finish_reason": "tool_calls",
        "logprobs": None,
    }],
    "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60, "prompt_tokens_details": {"cached_tokens": 20}},
}  # fmt: skip


def test_chat_completion_to_messages_response() -> None:
    ChatCompletion.model_validate(COMPLETION)
    message = Message.model_validate(chat_response_to_messages(COMPLETION))
    assert message.id == "chatcmpl-9" and message.model == "gpt-4.1" and message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"a": [1]} and message.content[2].input == {}  # type: ignore[union-attr]
    assert message.usage.input_tokens == 30 and message.usage.cache_read_input_tokens == 20
    assert message.usage.output_tokens == 10


def test_refusal_becomes_a_refusal_stop() -> None:
    completion = {**COMPLETION, "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": None, "refusal": "I can't."}}]}  # fmt: skip
    message = chat_response_to_messages(completion)
    assert message["stop_reason"] == "refusal" and message["content"] == [{"type": "text", "text": "I can't."}]


def test_content_parts_answer_is_read() -> None:
    completion = {**COMPLETION, "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}  # fmt: skip
    assert chat_response_to_messages(completion)["content"] == [{"type": "text", "text": "ab"}]


@pytest.mark.parametrize(
    ("completion", "fragment"),
    [
        ("nope", "not a JSON object"),
        ({"choices": []}, "no choices"),
        ({"choices": [{"message": "x"}]}, "message is not an object"),
        ({"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}, "no function name"),
        ({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]}}]}, "not a JSON object"),
        ({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}}]}, "not a JSON object"),
    ],
)  # fmt: skip
def test_unreadable_completions(completion: Any, fragment: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=fragment):
        chat_response_to_messages(completion)


def test_response_round_trip() -> None:
    message = {**MESSAGE, "content": MESSAGE["content"][1:]}
    back = chat_response_to_messages(messages_response_to_chat(message, created=0))
    assert back["content"] == [
        {"type": "text", "text": "Let me check. One moment."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "tiered", "n": 2}},
    ]
    assert back["stop_reason"] == "tool_use" and back["model"] == "claude-opus-4-7"
    assert back["usage"]["cache_read_input_tokens"] == 30
    assert back["usage"]["input_tokens"] == 105  # cache writes read back as plain input
