"""Messages request -> OpenAI chat request, the strict-schema check, and round trips through both ways."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.cascade.triage import TRIAGE_TOOL_NAME, build_triage_request, triage_schema
from tiered.errors import InvalidRequestError
from tiered.openai_compat import (
    InvalidFieldError,
    chat_request_to_messages,
    is_strict_compatible,
    messages_request_to_chat,
)

BASE: dict[str, Any] = {"model": "gpt-4.1", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}


def test_minimal_request_and_max_tokens_field() -> None:
    assert messages_request_to_chat(BASE) == {
        "model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 100}  # fmt: skip
    assert messages_request_to_chat(BASE, max_tokens_field="max_tokens")["max_tokens"] == 100


def test_system_blocks_are_joined() -> None:
    body = {
        **BASE,
        "system": [
            {"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "B"},
        ],
    }
    assert messages_request_to_chat(body)["messages"][0] == {"role": "system", "content": "A\n\nB"}
    assert messages_request_to_chat({**BASE, "system": "S"})["messages"][0] == {"role": "system", "content": "S"}


def test_tool_use_and_results_become_tool_calls_and_tool_messages() -> None:
    body = {
        **BASE,
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
                {"type": "text", "text": "and tomorrow?"},
            ]},
        ],
    }  # fmt: skip
    assert messages_request_to_chat(body)["messages"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: boom"},
        {"role": "user", "content": "and tomorrow?"},
    ]  # fmt: skip


def test_images_and_documents() -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVB"},
            "title": "t",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
    ]
    parts = messages_request_to_chat({**BASE, "messages": [{"role": "user", "content": content}]})["messages"][0][
        "content"
    ]
    assert parts == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {"type": "file", "file": {"filename": "t.pdf", "file_data": "data:application/pdf;base64,JVB"}},
        {"type": "text", "text": "plain doc"},
    ]


def test_sampling_stop_metadata_tools_and_stream() -> None:
    body = {
        **BASE,
        "temperature": 0.2, "top_p": 0.9, "top_k": 5, "stop_sequences": ["X"], "metadata": {"user_id": "u1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024}, "stream": True,
        "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object", "properties": {}}, "strict": True}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    }  # fmt: skip
    out = messages_request_to_chat(body)
    assert out["temperature"] == 0.2 and out["top_p"] == 0.9 and "top_k" not in out and "thinking" not in out
    assert out["stop"] == ["X"] and out["user"] == "u1"
    assert out["tools"] == [{"type": "function", "function": {
        "name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}, "strict": True}}]  # fmt: skip
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "auto"}, "auto"), ({"type": "none"}, "none"), ({"type": "any"}, "required"),
     ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}})],
)  # fmt: skip
def test_tool_choices(choice: dict[str, Any], expected: object) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    assert messages_request_to_chat({**BASE, "tools": tools, "tool_choice": choice})["tool_choice"] == expected


def test_triage_structured_request() -> None:
    out = messages_request_to_chat(build_triage_request(BASE, "gpt-4.1"))
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": TRIAGE_TOOL_NAME, "schema": triage_schema(), "strict": True},
    }
    assert out["messages"][0]["role"] == "system" and "first, fast tier" in out["messages"][0]["content"]


def test_caller_schema_is_named_output() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    out = messages_request_to_chat({**BASE, "output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert out["response_format"]["json_schema"] == {"name": "output", "schema": schema, "strict": False}


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        (triage_schema(), True),
        (triage_schema({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
                        "additionalProperties": False}), True),
        (triage_schema({"type": "object", "properties": {"n": {"type": "integer"}}}), False),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": [], "additionalProperties": False}, False),
        ({"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}, "required": ["a"],
          "additionalProperties": False}, False),
        ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}, "required": ["a"],
          "additionalProperties": False}, True),
        ({"anyOf": [{"type": "string"}]}, False),
        ({"type": "object", "properties": {}, "required": [], "additionalProperties": False,
          "$defs": {"d": {"type": "object"}}}, False),
        ("not a schema", False),
    ],
)  # fmt: skip
def test_strict_compatibility(schema: Any, strict: bool) -> None:
    assert is_strict_compatible(schema) is strict


def test_deeply_nested_schema_is_not_strict() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(30):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"], "additionalProperties": False}
    assert is_strict_compatible(schema) is False


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**BASE, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
        ({**BASE, "messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, "messages.0.content.0.type"),
        ({**BASE, "messages": [{"role": "assistant", "content": [{"type": "server_tool_use"}]}]}, "messages.0.content.0.type"),
        ({**BASE, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                                              "content": [{"type": "image"}]}]}]},
         "messages.0.content.0.content.0.type"),
        ({**BASE, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
         "messages.0.content.0.source.type"),
        ({**BASE, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({**BASE, "system": [{"type": "image"}]}, "system.0.type"),
        ({**BASE, "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
        ({**BASE, "max_tokens": 0}, "max_tokens"),
        ({**BASE, "model": None}, "model"),
    ],
)  # fmt: skip
def test_untranslatable_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        messages_request_to_chat(body)
    assert info.value.param == param


# --- round trips ------------------------------------------------------------------------------------------

CHAT_REQUEST: dict[str, Any] = {
    "model": "m",
    "max_completion_tokens": 50,
    "messages": [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Calling.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/i.png"}}]},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "stop": ["END"],
    "temperature": 0.5,
    "response_format": {"type": "json_schema", "json_schema": {"name": "output", "strict": False,
                                                               "schema": {"type": "object"}}},
}  # fmt: skip


def test_chat_request_round_trip() -> None:
    messages = chat_request_to_messages(CHAT_REQUEST).body
    assert messages_request_to_chat(messages) == CHAT_REQUEST


_text = st.text(min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    system=st.lists(_text, max_size=2),
    turns=st.lists(st.tuples(st.sampled_from(["user", "assistant"]), _text), min_size=1, max_size=6),
    max_tokens=st.integers(1, 10_000),
    temperature=st.none() | st.floats(0, 1),
    stop=st.lists(_text, max_size=3),
)
def test_plain_conversations_survive_both_ways(
    system: list[str], turns: list[tuple[str, str]], max_tokens: int, temperature: float | None, stop: list[str]
) -> None:
    messages: list[dict[str, Any]] = []
    for role, text in turns:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += [{"type": "text", "text": text}]
        else:
            messages.append({"role": role, "content": [{"type": "text", "text": text}]})
    body: dict[str, Any] = {"model": "m", "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = [{"type": "text", "text": "\n\n".join(system)}]
    if temperature is not None and temperature < 1:
        body["temperature"] = temperature
    if stop:
        body["stop_sequences"] = stop
    chat = messages_request_to_chat(body)
    try:
        back = chat_request_to_messages(chat).body
    except InvalidRequestError:
        raise AssertionError("a translated request must be valid") from None
    # What may change: one text block reads as a plain string, and an assistant's texts are joined.
    for message in messages:
        texts = [block["text"] for block in message["content"]]
        if message["role"] == "assistant" or len(texts) == 1:
            message["content"] = "".join(texts)
    assert back == body
