"""OpenAI chat request -> Messages request: mappings, refusals that name the field, and fuzzing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiered.errors import InvalidRequestError
from tiered.openai_compat import (
    DEFAULT_MAX_TOKENS,
    JSON_OBJECT_INSTRUCTION,
    InvalidFieldError,
    chat_request_to_messages,
)

BASE: dict[str, Any] = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hi"}]}


def translate(**fields: Any) -> dict[str, Any]:
    return chat_request_to_messages({**BASE, **fields}).body


def test_minimal_request() -> None:
    result = chat_request_to_messages(BASE)
    assert result.body == {"model": "claude-haiku-4-5", "max_tokens": DEFAULT_MAX_TOKENS, "messages": BASE["messages"]}
    assert not result.stream and not result.include_usage


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert translate(max_tokens=10)["max_tokens"] == 10
    assert translate(max_tokens=10, max_completion_tokens=20)["max_tokens"] == 20
    assert chat_request_to_messages(BASE, default_max_tokens=77).body["max_tokens"] == 77


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "assistant", "content": "Salut"},
        {"role": "user", "content": "Encore"},
    ]
    body = translate(messages=messages)
    assert body["system"] == [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Use French."}]
    assert body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Salut"},
        {"role": "user", "content": "Encore"},
    ]


def test_user_parts_text_images_and_pdf() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
    ]
    blocks = translate(messages=[{"role": "user", "content": content}])["messages"][0]["content"]
    assert blocks == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
    ]


def test_tool_calls_and_tool_results() -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Rome"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
        {"role": "user", "content": "Thanks"},
    ]
    body = translate(messages=messages)
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


def test_assistant_text_with_tool_call_and_empty_arguments() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}}]},
    ]  # fmt: skip
    assert translate(messages=messages)["messages"][1]["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "c", "name": "now", "input": {}},
    ]


def test_empty_assistant_message_is_dropped_and_users_merge() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "b"},
    ]
    assert translate(messages=messages)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_tools_and_tool_choice() -> None:
    tools = [
        {"type": "function", "function": {"name": "weather", "description": "Get weather",
                                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                                          "strict": True}},
        {"type": "function", "function": {"name": "now"}},
    ]  # fmt: skip
    body = translate(tools=tools, tool_choice="required")
    assert body["tools"] == [
        {"name": "weather", "description": "Get weather", "strict": True,
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]  # fmt: skip
    assert body["tool_choice"] == {"type": "any"}
    assert "tool_choice" not in translate(tools=tools)
    assert translate(tools=tools, tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert translate(tools=tools, tool_choice="none")["tool_choice"] == {"type": "none"}
    named = {"type": "function", "function": {"name": "now"}}
    assert translate(tools=tools, tool_choice=named)["tool_choice"] == {"type": "tool", "name": "now"}
    assert translate(tools=tools, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}  # fmt: skip
    assert translate(tools=tools, tool_choice=named, parallel_tool_calls=False)["tool_choice"] == {
        "type": "tool", "name": "now", "disable_parallel_tool_use": True}  # fmt: skip
    assert "tool_choice" not in translate(tool_choice="auto")


def test_sampling_stop_user_and_extensions() -> None:
    body = translate(temperature=1.7, top_p=0.9, stop="END", user="user-1", top_k=40, seed=3, store=False)
    assert body["temperature"] == 1.0 and body["top_p"] == 0.9 and body["top_k"] == 40
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "user-1"}
    assert "top_p" not in translate(top_p=1)
    assert translate(stop=["a", "b"])["stop_sequences"] == ["a", "b"]
    assert "stop_sequences" not in translate(stop=[])


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    body = translate(
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    )
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    body = translate(
        messages=[{"role": "system", "content": "S"}, *BASE["messages"]], response_format={"type": "json_object"}
    )
    assert body["system"] == [{"type": "text", "text": "S"}, {"type": "text", "text": JSON_OBJECT_INSTRUCTION}]
    assert "output_config" not in body
    assert translate(response_format={"type": "text"}) == translate()


def test_stream_and_include_usage() -> None:
    result = chat_request_to_messages({**BASE, "stream": True, "stream_options": {"include_usage": True}})
    assert result.stream and result.include_usage and result.body["stream"] is True
    result = chat_request_to_messages({**BASE, "stream": False, "stream_options": {"include_usage": True}})
    assert not result.stream and not result.include_usage and "stream" not in result.body


def test_null_fields_and_defaults_are_accepted() -> None:
    body = translate(n=1, logprobs=False, presence_penalty=0, frequency_penalty=0.0, logit_bias={}, modalities=["text"],
                     temperature=None, tools=None, metadata={"k": "v"}, service_tier="auto")  # fmt: skip
    assert body == translate()


@pytest.mark.parametrize(
    ("fields", "param", "fragment"),
    [
        ({"n": 2}, "n", "only 1"),
        ({"n": True}, "n", "only 1"),
        ({"logprobs": True}, "logprobs", "only false"),
        ({"presence_penalty": 0.5}, "presence_penalty", "only 0"),
        ({"functions": []}, "functions", "use 'tools'"),
        ({"function_call": "auto"}, "function_call", "use 'tool_choice'"),
        ({"audio": {"voice": "x"}}, "audio", "not supported"),
        ({"reasoning_effort": "high"}, "reasoning_effort", "not supported"),
        ({"model": ""}, "model", "must not be empty"),
        ({"model": 3}, "model", "must be a string"),
        ({"messages": []}, "messages", "at least one"),
        ({"messages": "hi"}, "messages", "must be an array"),
        ({"messages": [{"role": "system", "content": "only"}]}, "messages", "user or assistant"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role", "must be one of system"),
        ({"messages": [{"role": "function", "content": "x", "name": "f"}]}, "messages.0.role", "deprecated"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages.0.content.0.type", "input_audio"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]},
         "messages.0.content.0.image_url.url", "data: URL"),
        ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}]},
         "messages.0.content.0.file", "file_id"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                             "function": {"name": "f", "arguments": "[1]"}}]}]},
         "messages.0.tool_calls.0.function.arguments", "JSON object"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id", "must be a string"),
        ({"messages": [{"role": "system", "content": [{"type": "image_url"}]}]}, "messages.0.content.0.type", "text"),
        ({"max_tokens": 0}, "max_tokens", ">= 1"),
        ({"max_completion_tokens": "10"}, "max_completion_tokens", "integer"),
        ({"temperature": 3}, "temperature", "between 0 and 2"),
        ({"top_p": -0.1}, "top_p", "between 0 and 1"),
        ({"stop": [1]}, "stop.0", "string"),
        ({"stream": "yes"}, "stream", "boolean"),
        ({"tools": [{"type": "custom", "custom": {}}]}, "tools.0.type", "'function'"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
         "tools.0.function.parameters.type", "object"),
        ({"tool_choice": "required"}, "tool_choice", "needs tools"),
        ({"tool_choice": "sometimes"}, "tool_choice", "auto, none, required"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}],
          "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice.function.name", "no tool named"),
        ({"response_format": {"type": "yaml"}}, "response_format.type", "json_schema"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema.schema", "object"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(fields: dict[str, Any], param: str, fragment: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        chat_request_to_messages({**BASE, **fields})
    assert info.value.param == param
    assert info.value.message.startswith(f"{param}: ") and fragment in info.value.message
    assert info.value.status == 400 and info.value.error_type == "invalid_request_error"


def test_non_object_body() -> None:
    with pytest.raises(InvalidFieldError, match="body: must be an object"):
        chat_request_to_messages([1, 2])


# --- fuzzing: bad input only ever raises InvalidRequestError ---------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
_roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "x"])
_part = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "file", "refusal", "input_audio"])},
    optional={"text": _json | st.text(), "image_url": _json | st.fixed_dictionaries({"url": st.sampled_from(
        ["data:image/png;base64,AA==", "https://x.test/a.png", "data:text/plain,x", "nope"])}),
              "file": _json, "refusal": _json},
)  # fmt: skip
_call = st.fixed_dictionaries(
    {"id": _json | st.text(min_size=1), "type": st.sampled_from(["function", "custom"]),
     "function": st.fixed_dictionaries({"name": _json | st.text(min_size=1),
                                        "arguments": st.sampled_from(['{"a": 1}', "", "[]", "{", "null"]) | _json})},
)  # fmt: skip
_message = st.fixed_dictionaries(
    {"role": _roles},
    optional={"content": st.text() | st.lists(_part, max_size=3) | _json, "tool_calls": st.lists(_call, max_size=2) | _json,
              "tool_call_id": st.text() | _json, "name": _json},
)  # fmt: skip
_fields = st.fixed_dictionaries(
    {},
    optional={
        "model": st.text() | _json,
        "messages": st.lists(_message, max_size=4) | _json,
        "max_tokens": st.integers(-2, 10) | _json,
        "max_completion_tokens": _json,
        "stop": _json,
        "temperature": st.floats() | _json,
        "top_p": st.floats() | _json,
        "stream": _json,
        "stream_options": _json,
        "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
            {"name": st.text(min_size=1)}, optional={"parameters": _json, "strict": _json, "description": _json})}),
            max_size=2) | _json,
        "tool_choice": st.sampled_from(["auto", "none", "required", "x"]) | _json,
        "parallel_tool_calls": _json,
        "response_format": _json,
        "n": _json,
        "user": _json,
        "logit_bias": _json,
        "extra": _json,
    },
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_fields | _json)
def test_fuzzed_requests_never_raise_anything_but_invalid_request(request: Any) -> None:
    try:
        result = chat_request_to_messages(request)
    except InvalidRequestError as exc:
        error: InvalidRequestError | None = exc
    else:
        error = None
    if error is not None:
        assert ": " in error.message
        return
    body = result.body
    assert isinstance(body["model"], str) and body["model"]
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] >= 1
    assert body["messages"]
    for turn in body["messages"]:
        assert turn["role"] in ("user", "assistant")
