"""The official anthropic and openai SDKs pointed at the fake."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionNamedToolChoiceParam,
)
from tests.fake_upstream._fake_helpers import triage

from tiered.fake_upstream import FakeUpstream

MESSAGES: list[MessageParam] = [{"role": "user", "content": "Name three primary colours. [[fake tokens=12]]"}]


@pytest.fixture
def client(fake: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)


@pytest.fixture
def oai(fake: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)


def test_messages_create(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES)
    assert message.model == "claude-haiku-4-5"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert len(message.content[0].text.split()) == 12
    assert message.usage.output_tokens == 12


def test_messages_stream_text_and_final_message(client: anthropic.Anthropic, fake: FakeUpstream) -> None:
    with client.messages.stream(model="claude-opus-4-7", max_tokens=100, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 12
    assert final.content[0].type == "text" and final.content[0].text == "".join(pieces)
    assert final.usage.output_tokens == 12
    assert final.stop_reason == "end_turn"
    assert fake.requests[-1].content_events == 12


def test_sdk_reads_a_triage_tool_call(client: anthropic.Anthropic) -> None:
    body = triage("2+2? [[fake confidence=0.9 answer=4]]", mode="tool")
    message = client.messages.create(**body)
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "tiered_triage"
    assert block.input == {"confidence": 0.9, "answer": "4"}
    with client.messages.stream(**body) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == block.input


def test_sdk_structured_triage(client: anthropic.Anthropic) -> None:
    message = client.messages.create(**triage("capital of Peru? [[fake confidence=0.97 answer=Lima.]]"))
    assert message.content[0].type == "text"
    assert json.loads(message.content[0].text) == {"confidence": 0.97, "answer": "Lima."}


def test_count_tokens_and_models(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model="claude-haiku-4-5", messages=MESSAGES)
    assert counted.input_tokens >= 10
    ids = [m.id for m in client.models.list()]
    assert {"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"} <= set(ids)


def test_sdk_errors_carry_status_and_request_id(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as rate:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "[[fake fault=429]]"}]
        )
    assert rate.value.status_code == 429
    assert rate.value.request_id is not None and rate.value.request_id.startswith("req_")
    assert rate.value.response.headers["x-should-retry"] == "true"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "[[fake fault=529]]"}]
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="claude-haiku-4-5", max_tokens=0, messages=[{"role": "user", "content": "hi"}])
    assert "max_tokens" in str(bad.value)


def test_sdk_retries_through_a_fault_that_fires_twice(fake: FakeUpstream) -> None:
    patient = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=2)
    content = "retry me [[fake fault=rate_limit times=2 retry_after=0.01]]"
    message = patient.messages.create(
        model="claude-haiku-4-5", max_tokens=500, messages=[{"role": "user", "content": content}]
    )
    assert message.stop_reason == "end_turn"
    assert [r.status for r in fake.requests] == [429, 429, 200]


def test_sdk_stream_error_event_raises(client: anthropic.Anthropic) -> None:
    content = "[[fake fault=stream_error after=5]]"
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": content}]
        ) as stream,
    ):
        list(stream.text_stream)


def test_openai_chat_completion(oai: openai.OpenAI, fake: FakeUpstream) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi [[fake tokens=6]]"}]
    )
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is not None and len(choice.message.content.split()) == 6
    assert completion.usage is not None and completion.usage.completion_tokens == 6
    assert fake.requests[-1].path == "/v1/chat/completions"


def test_openai_stream_with_usage(oai: openai.OpenAI, fake: FakeUpstream) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi [[fake tokens=9 cache_read=5]]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 9
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == 9
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])
    assert fake.requests[-1].content_events == 9


def test_openai_triage_with_response_format(oai: openai.OpenAI, fake: FakeUpstream) -> None:
    schema = {
        "type": "object",
        "properties": {"confidence": {"type": "number"}, "answer": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["confidence", "answer"],
        "additionalProperties": False,
    }
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "2+2? [[fake confidence=0.85 answer=4]]"}],
        response_format={"type": "json_schema", "json_schema": {"name": "triage", "schema": schema, "strict": True}},
    )
    assert json.loads(completion.choices[0].message.content or "") == {"confidence": 0.85, "answer": "4"}
    assert fake.requests[-1].is_triage


def test_openai_triage_with_forced_function(oai: openai.OpenAI) -> None:
    tool: ChatCompletionFunctionToolParam = {
        "type": "function",
        "function": {
            "name": "tiered_triage",
            "parameters": {"type": "object", "properties": {"confidence": {}, "answer": {}}},
        },
    }
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hard [[fake confidence=0.2]]"}]
    choice: ChatCompletionNamedToolChoiceParam = {"type": "function", "function": {"name": "tiered_triage"}}
    completion = oai.chat.completions.create(model="m", messages=messages, tools=[tool], tool_choice=choice)
    result = completion.choices[0]
    assert result.finish_reason == "stop"  # as OpenAI reports a function forced by name
    [call] = result.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "tiered_triage"
    assert json.loads(call.function.arguments) == {"confidence": 0.2, "answer": None}
    stream = oai.chat.completions.create(model="m", messages=messages, tools=[tool], tool_choice=choice, stream=True)
    arguments = ""
    for chunk in stream:
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += delta_call.function.arguments or "" if delta_call.function else ""
    assert json.loads(arguments) == {"confidence": 0.2, "answer": None}


def test_openai_errors(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as rate:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "[[fake fault=429]]"}])
    assert rate.value.status_code == 429
    assert rate.value.request_id is not None
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(model="m", messages=[])
    assert bad.value.body["param"] == "messages"  # type: ignore[index]
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "[[fake fault=500]]"}])


def test_openai_max_tokens_gives_length(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x [[fake tokens=40]]"}], max_completion_tokens=5
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
