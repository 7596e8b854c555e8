"""Through the proxy with the official SDKs: a caller's structured output (nested Pydantic models with
``$defs``, the legacy ``output_format``) and ``stop_sequences`` behave as they would on the final tier."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from tiered.cascade.schema_refs import local_refs, pointer_segments
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

KEY = "sk-ant-client-key-1234"


class Address(BaseModel):
    city: str
    country: str


class Person(BaseModel):
    name: str
    home: Address
    past: list[Address]


PERSON = {"name": "Ada", "home": {"city": "London", "country": "UK"}, "past": [{"city": "Paris", "country": "FR"}]}
SCRIPTED = json.dumps(json.dumps(PERSON))  # a JSON string inside the directive


def client(proxy: ProxyThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


def unresolved_refs(schema: dict[str, Any]) -> list[str]:
    """Local references that do not resolve from the root of ``schema`` (the real API answers 400)."""
    missing = []
    for ref in local_refs(schema):
        node: Any = schema
        for part in pointer_segments(ref) or ["<not local>"]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            missing.append(ref)
    return missing


def test_nested_pydantic_output_ships_from_the_cheap_tier(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    parsed = client(proxy).messages.parse(
        model="tiered",
        max_tokens=400,
        messages=[{"role": "user", "content": f"[[fake confidence=0.93 answer={SCRIPTED}]] Who is Ada?"}],
        output_format=Person,
    )
    assert parsed.parsed_output == Person.model_validate(PERSON)
    assert parsed.model.startswith("claude-haiku-4-5") and parsed.stop_reason == "end_turn"
    (triage,) = upstream.requests  # shipped: no final call
    schema = triage.body["output_config"]["format"]["schema"]
    assert "$ref" in json.dumps(schema)  # the SDK sent Address as a reference
    assert unresolved_refs(schema) == []
    assert "output_format" not in triage.body


def test_nested_pydantic_output_streams_from_the_cheap_tier(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    with client(proxy).messages.stream(
        model="tiered",
        max_tokens=400,
        messages=[{"role": "user", "content": f"[[fake confidence=0.93 answer={SCRIPTED}]] Who is Ada?"}],
        output_format=Person,
    ) as stream:
        final = stream.get_final_message()
    assert final.parsed_output == Person.model_validate(PERSON)
    assert final.model.startswith("claude-haiku-4-5")
    (triage,) = upstream.requests
    assert unresolved_refs(triage.body["output_config"]["format"]["schema"]) == []


def test_an_unscripted_answer_fits_the_nested_schema(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    """The fake's own answer to a triage fits the caller's schema through its hoisted definitions."""
    parsed = client(proxy).messages.parse(
        model="tiered",
        max_tokens=400,
        messages=[{"role": "user", "content": "[[fake confidence=0.93]] Who is someone?"}],
        output_format=Person,
    )
    assert isinstance(parsed.parsed_output, Person) and isinstance(parsed.parsed_output.home, Address)
    assert len(upstream.requests) == 1


def test_legacy_output_format_is_read_as_the_callers_schema(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    legacy = {"type": "json_schema", "schema": anthropic.transform_schema(Person)}
    message = client(proxy).beta.messages.create(
        model="tiered",
        max_tokens=400,
        messages=[{"role": "user", "content": f"[[fake confidence=0.91 answer={SCRIPTED}]] Who is Ada?"}],
        betas=["structured-outputs-2025-11-13"],
        extra_body={"output_format": legacy},
    )
    assert json.loads(message.content[0].text) == PERSON  # type: ignore[union-attr]
    (triage,) = upstream.requests
    # one structured-output form only, the current one: the schema is the caller's, nested as the answer
    assert "output_format" not in triage.body
    schema = triage.body["output_config"]["format"]["schema"]
    assert unresolved_refs(schema) == []
    answer = schema["properties"]["answer"]["anyOf"][0]
    assert answer["properties"]["home"] == {"$ref": "#/$defs/Address"}

    upstream.reset()  # escalated: the final tier gets the caller's request as it was sent
    message = client(proxy).beta.messages.create(
        model="tiered",
        max_tokens=400,
        messages=[{"role": "user", "content": "[[fake haiku:confidence=0.2]] Who is Ada?"}],
        betas=["structured-outputs-2025-11-13"],
        extra_body={"output_format": legacy},
    )
    assert message.model.startswith("claude-opus-4-7")
    triage, final = upstream.requests
    assert "output_format" not in triage.body and final.body["output_format"] == legacy
    assert "output_config" not in final.body
    Person.model_validate_json(message.content[0].text)  # type: ignore[union-attr]


STOPS = [
    # (answer, stop sequences, shipped text, matched)
    ("Paris is lovely. END and then some more words.", ["END"], "Paris is lovely. ", "END"),
    # inside the triage JSON a newline is written \n: the stop sequence could never match there
    ("line one\nline two", ["\n"], "line one", "\n"),
    # spans several of the fake's tokens; the earliest complete match wins
    ("The capital is Paris. It is lovely there.", ["is lovely", "Paris. It"], "The capital is ", "Paris. It"),
]


@pytest.mark.parametrize(("answer", "stops", "text", "matched"), STOPS)
def test_stop_sequences_end_a_shipped_answer(
    proxy: ProxyThread, upstream: FakeUpstream, answer: str, stops: list[str], text: str, matched: str
) -> None:
    content = f"[[fake confidence=0.95 answer={json.dumps(answer)}]] Tell me."
    message = client(proxy).messages.create(
        model="tiered", max_tokens=300, stop_sequences=stops, messages=[{"role": "user", "content": content}]
    )
    assert message.model.startswith("claude-haiku-4-5")
    assert message.content[0].text == text  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", matched)
    (triage,) = upstream.requests
    assert "stop_sequences" not in triage.body

    upstream.reset()
    with client(proxy).messages.stream(
        model="tiered", max_tokens=300, stop_sequences=stops, messages=[{"role": "user", "content": content}]
    ) as stream:
        streamed = "".join(stream.text_stream)  # every text delta: nothing past the stop sequence
        final = stream.get_final_message()
    assert streamed == text and final.content[0].text == text  # type: ignore[union-attr]
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", matched)
    assert final.model.startswith("claude-haiku-4-5")
    (triage,) = upstream.requests
    assert "stop_sequences" not in triage.body


def test_an_answer_without_the_stop_sequence_ends_its_turn(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    content = '[[fake confidence=0.95 answer="No stop word in here, E N D."]] Tell me.'
    with client(proxy).messages.stream(
        model="tiered", max_tokens=300, stop_sequences=["END"], messages=[{"role": "user", "content": content}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == "No stop word in here, E N D."  # the held-back tail is sent at the end
    assert (final.stop_reason, final.stop_sequence) == ("end_turn", None)


def test_an_escalated_request_keeps_its_stop_sequences(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    content = '[[fake haiku:confidence=0.1 answer="Deep thoughts. END more"]] Hard question.'
    message = client(proxy).messages.create(
        model="tiered", max_tokens=300, stop_sequences=["END"], messages=[{"role": "user", "content": content}]
    )
    assert message.model.startswith("claude-opus-4-7")
    triage, final = upstream.requests
    assert "stop_sequences" not in triage.body and final.body["stop_sequences"] == ["END"]
    assert message.content[0].text == "Deep thoughts. "  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")


def test_openai_stop_ends_a_shipped_answer(proxy: ProxyThread, upstream: FakeUpstream) -> None:
    oai = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0)
    content = '[[fake confidence=0.95 answer="Blue, mostly. END of story."]] Sky colour?'
    completion = oai.chat.completions.create(
        model="tiered", max_tokens=100, stop=["END"], messages=[{"role": "user", "content": content}]
    )
    choice = completion.choices[0]
    assert choice.message.content == "Blue, mostly. " and choice.finish_reason == "stop"
    assert completion.model.startswith("claude-haiku-4-5")
    (triage,) = upstream.requests
    assert "stop_sequences" not in triage.body

    upstream.reset()
    chunks = list(
        oai.chat.completions.create(
            model="tiered", max_tokens=100, stop="END", stream=True, messages=[{"role": "user", "content": content}]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Blue, mostly. "
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
