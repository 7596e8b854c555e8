"""Reply generation without a server: determinism, the triage contract, caller schemas, content faults."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fake_upstream._fake_helpers import triage, user

from tiered.cascade.triage import TriageMode, build_triage_request
from tiered.fake_upstream import Scenario
from tiered.fake_upstream.generate import Reply, build_reply
from tiered.fake_upstream.prompt import anthropic_prompt, openai_prompt
from tiered.fake_upstream.resolve import Runtime
from tiered.fake_upstream.schema_values import schema_value
from tiered.fake_upstream.words import tokenize, words


def reply_for(body: dict[str, Any], scenario: Scenario | None = None) -> Reply:
    scenario = scenario or Scenario()
    prompt = anthropic_prompt(body)
    return build_reply(prompt, Runtime(scenario).resolve(prompt.last_user_text, prompt.model), scenario)


def fits(value: Any, schema: dict[str, Any]) -> bool:
    """A small JSON Schema check, enough for the schemas used here."""
    if "enum" in schema:
        return value in schema["enum"]
    if "anyOf" in schema:
        return any(fits(value, option) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and all(k in value for k in schema.get("required", []))
            and all(fits(value[k], props[k]) for k in value if k in props)
            and (schema.get("additionalProperties", True) or set(value) <= set(props))
        )
    if kind == "array":
        return (
            isinstance(value, list)
            and len(value) >= schema.get("minItems", 0)
            and all(fits(v, schema["items"]) for v in value)
        )
    if kind == "string":
        return isinstance(value, str) and len(value) >= schema.get("minLength", 0)
    if kind == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and schema.get("minimum", value) <= value <= schema.get("maximum", value)
        )
    if kind == "number":
        return isinstance(value, int | float) and schema.get("minimum", value) <= value <= schema.get("maximum", value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return True


CALLER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 3},
        "population": {"type": "integer", "minimum": 1000, "maximum": 5000},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "capital": {"type": "boolean"},
        "kind": {"enum": ["town", "city", "metropolis"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "when": {"type": "string", "format": "date"},
        "nested": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            "required": ["ok", "note"],
            "additionalProperties": False,
        },
    },
    "required": ["city", "population", "score", "capital", "kind", "tags", "when", "nested"],
    "additionalProperties": False,
}


def test_same_prompt_same_reply_always() -> None:
    first = reply_for(triage("What is the boiling point of water?"))
    again = reply_for(triage("What is the boiling point of water?"))
    assert first == again
    other_model = reply_for(triage("What is the boiling point of water?", model="claude-sonnet-4-6"))
    other_seed = reply_for(triage("What is the boiling point of water?"), Scenario(seed=3))
    assert first.text != other_model.text or first.text != other_seed.text


def test_default_triage_confidence_distribution() -> None:
    confident = 0
    for i in range(400):
        text = reply_for(triage(f"question number {i}")).text
        payload = json.loads(text)
        assert list(payload) == ["confidence", "answer"]  # confidence first, for streaming parsers
        if 0.82 <= payload["confidence"] <= 0.99:
            confident += 1
            assert isinstance(payload["answer"], str) and payload["answer"]
        else:
            assert 0.05 <= payload["confidence"] <= 0.6
            assert payload["answer"] is None
    assert 0.72 <= confident / 400 <= 0.88


def test_answers_exercise_json_escaping() -> None:
    answers = [reply_for(triage(f"tell me about item {i}", max_tokens=4096)).text for i in range(300)]
    decoded = [json.loads(a)["answer"] for a in answers]
    texts = [d for d in decoded if d]
    assert any('"' in t for t in texts)
    assert any("\n" in t for t in texts)
    assert any("\\" in t for t in texts)
    assert any(not t.isascii() for t in texts)


@given(st.text())
def test_tokenize_round_trips(text: str) -> None:
    assert "".join(tokenize(text)) == text


@given(st.integers(min_value=1, max_value=400), st.integers(min_value=0, max_value=2**32))
def test_one_word_is_one_token(count: int, seed: int) -> None:
    assert len(tokenize(words(random.Random(seed), count))) == count


def test_scripted_token_count_is_exact_for_plain_answers() -> None:
    reply = reply_for(user("write [[fake tokens=137]]", max_tokens=4096))
    assert len(reply.tokens) == reply.output_tokens == 137
    assert reply.stop_reason == "end_turn"


def test_max_tokens_cuts_the_output() -> None:
    reply = reply_for(user("write [[fake tokens=50]]", max_tokens=20))
    assert (len(reply.tokens), reply.output_tokens, reply.stop_reason) == (20, 20, "max_tokens")
    cut = reply_for(triage("x [[fake confidence=0.9 tokens=50]]", max_tokens=10))
    assert cut.stop_reason == "max_tokens"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)


@pytest.mark.parametrize(
    ("directive", "confidence", "answer"),
    [
        ("confidence=0.3", 0.3, None),  # low confidence and nothing scripted: no answer
        ('confidence=0.3 answer="Maybe 4."', 0.3, "Maybe 4."),
        ("confidence=0.95 answer=null", 0.95, None),
        ("confidence=0.7 tokens=3", 0.7, "three words"),
    ],
)
def test_scripted_triage(directive: str, confidence: float, answer: str | None) -> None:
    payload = json.loads(reply_for(triage(f"2+2? [[fake {directive}]]")).text)
    assert payload["confidence"] == confidence
    if answer == "three words":
        assert len(tokenize(payload["answer"])) == 3
    else:
        assert payload["answer"] == answer


def test_tool_mode_triage_is_a_tool_call() -> None:
    reply = reply_for(triage("2+2? [[fake confidence=0.91 answer=4]]", mode="tool"))
    assert (reply.block, reply.tool_name, reply.stop_reason) == ("tool_use", "tiered_triage", "tool_use")
    assert reply.tool_input == {"confidence": 0.91, "answer": "4"}
    assert json.loads(reply.text) == reply.tool_input


def test_caller_schema_answers_fit_the_schema() -> None:
    body = user("Describe a city", output_config={"format": {"type": "json_schema", "schema": CALLER_SCHEMA}})
    modes: tuple[TriageMode, ...] = ("structured", "tool")
    for mode in modes:
        for i in range(30):
            request = build_triage_request({**body, "messages": [{"role": "user", "content": f"c{i}"}]}, "h", mode)
            reply = reply_for(request)
            payload = json.loads(reply.text)
            assert payload["answer"] is None or fits(payload["answer"], CALLER_SCHEMA), payload


def test_non_triage_structured_output_and_forced_tools_fit_their_schemas() -> None:
    structured = reply_for(
        user("Describe a city", output_config={"format": {"type": "json_schema", "schema": CALLER_SCHEMA}})
    )
    assert fits(json.loads(structured.text), CALLER_SCHEMA)
    tool = {"name": "lookup", "description": "find", "input_schema": CALLER_SCHEMA}
    forced = reply_for(user("Describe", tools=[tool], tool_choice={"type": "tool", "name": "lookup"}))
    assert (forced.block, forced.tool_name, forced.stop_reason) == ("tool_use", "lookup", "tool_use")
    assert forced.tool_input is not None and fits(forced.tool_input, CALLER_SCHEMA)
    auto = reply_for(user("Describe", tools=[tool]))
    assert auto.block == "text"


def test_schema_value_handles_refs_and_type_lists() -> None:
    schema = {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/point"}, "maybe": {"type": ["null", "string"]}},
    }
    value = schema_value(schema, random.Random(1))
    assert isinstance(value["p"]["x"], int)
    assert isinstance(value["maybe"], str)


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("not_json", lambda text: not text.lstrip().startswith("{")),
        ("missing_confidence", lambda text: list(json.loads(text)) == ["answer"]),
        ("missing_answer", lambda text: list(json.loads(text)) == ["confidence"]),
        ("confidence_out_of_range", lambda text: json.loads(text)["confidence"] > 1),
        ("confidence_not_number", lambda text: isinstance(json.loads(text)["confidence"], str)),
    ],
)
def test_triage_content_faults(fault: str, check: Any) -> None:
    modes: tuple[TriageMode, ...] = ("structured", "tool")
    for mode in modes:
        reply = reply_for(triage(f"q [[fake confidence=0.9 fault={fault}]]", mode=mode))
        assert check(reply.text), reply.text
        if fault == "not_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(reply.text)


def test_truncated_and_refusal_faults() -> None:
    truncated = reply_for(triage("q [[fake confidence=0.9 tokens=40 fault=truncated]]"))
    assert truncated.stop_reason == "max_tokens"
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    refusal = reply_for(triage("q [[fake fault=refusal]]", mode="tool"))
    assert (refusal.stop_reason, refusal.block) == ("refusal", "text")


def test_usage_estimate_and_overrides() -> None:
    short = reply_for(user("hi"))
    long = reply_for(user("hi " * 400, system="You are terse. " * 50))
    assert short.input_tokens >= 1
    assert long.input_tokens == pytest.approx((3 * 400 + 15 * 50) / 4, abs=2)
    scripted = reply_for(user("x [[fake input_tokens=11 output_tokens=22 cache_read=33 cache_creation=44]]"))
    assert (
        scripted.input_tokens,
        scripted.output_tokens,
        scripted.cache_read_input_tokens,
        scripted.cache_creation_input_tokens,
    ) == (11, 22, 33, 44)


def test_triage_input_counts_tools_and_the_instruction() -> None:
    plain = anthropic_prompt(user("hello"))
    with_tool = anthropic_prompt(triage("hello", mode="tool"))
    assert with_tool.input_tokens > plain.input_tokens + 100


def test_openai_triage_detection() -> None:
    schema = {
        "type": "object",
        "properties": {"confidence": {"type": "number"}, "answer": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }
    base = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    structured = openai_prompt(
        {**base, "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}}
    )
    assert structured.triage == "structured"
    tool = {"type": "function", "function": {"name": "tiered_triage", "parameters": schema}}
    forced = openai_prompt(
        {**base, "tools": [tool], "tool_choice": {"type": "function", "function": {"name": "tiered_triage"}}}
    )
    assert forced.triage == "tool"
    assert openai_prompt(base).triage is None
