"""Request-shape rules the real Messages API enforces whatever the model: structured outputs and citations."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from _fake_helpers import triage, user

from tiered.fake_upstream import FakeUpstream

BOTH = (
    "Both output_format and output_config.format were provided. "
    "Please use only output_config.format (output_format is deprecated)."
)

ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
    "required": ["items"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
}


def fmt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "schema": schema}}


def status_and_message(http: httpx2.Client, body: dict[str, Any]) -> tuple[int, str]:
    response = http.post("/v1/messages", json=body)
    return response.status_code, response.json()["error"]["message"] if response.status_code != 200 else ""


def cited_document(enabled: bool) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
                "citations": {"enabled": enabled},
            },
            {"type": "text", "text": "What colour is the sky?"},
        ],
    }


def test_refs_resolving_from_the_root_are_accepted(http: httpx2.Client) -> None:
    assert status_and_message(http, user("list", output_config=fmt(ITEM_SCHEMA)))[0] == 200
    legacy = {**ITEM_SCHEMA, "definitions": ITEM_SCHEMA["$defs"], "$defs": None}
    legacy["properties"] = {"items": {"type": "array", "items": {"$ref": "#/definitions/Item"}}}
    del legacy["$defs"]
    assert status_and_message(http, user("list", output_config=fmt(legacy)))[0] == 200


def test_a_ref_that_does_not_resolve_from_the_root_is_refused(http: httpx2.Client) -> None:
    # the caller's schema nested under a property: its "#/$defs/Item" no longer resolves from the new root
    nested = {
        "type": "object",
        "properties": {"answer": ITEM_SCHEMA},
        "required": ["answer"],
        "additionalProperties": False,
    }
    status, message = status_and_message(http, user("list", output_config=fmt(nested)))
    assert status == 400
    assert message == "output_config.format.schema: $ref '#/$defs/Item' could not be resolved"


def test_the_triage_of_a_schema_with_defs_is_accepted(http: httpx2.Client) -> None:
    """Issue #16 item 4, fixed: tiered hoists the caller's $defs to the triage schema's root."""
    assert status_and_message(http, triage("list", output_config=fmt(ITEM_SCHEMA))) == (200, "")


def test_external_and_recursive_refs_are_refused(http: httpx2.Client) -> None:
    external = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    assert "only local references" in status_and_message(http, user("x", output_config=fmt(external)))[1]
    recursive = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
    }
    assert "recursive schemas are not supported" in status_and_message(http, user("x", output_config=fmt(recursive)))[1]


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        (
            {"type": "number", "minimum": 0, "maximum": 1},
            "For 'number' type, properties maximum, minimum are not supported",
        ),
        ({"type": "integer", "multipleOf": 2}, "For 'integer' type, property 'multipleOf' is not supported"),
        ({"type": "string", "maxLength": 9}, "For 'string' type, property 'maxLength' is not supported"),
        (
            {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "For 'array' type, property 'maxItems' is not supported",
        ),
        (
            {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "For 'array' type, property 'minItems' is not supported",
        ),
    ],
)
def test_unsupported_schema_keywords_are_refused(http: httpx2.Client, prop: dict[str, Any], message: str) -> None:
    schema = {"type": "object", "properties": {"v": prop}, "required": ["v"], "additionalProperties": False}
    assert status_and_message(http, user("x", output_config=fmt(schema))) == (
        400,
        f"output_config.format.schema: {message}",
    )


def test_additional_properties_other_than_false_is_refused(http: httpx2.Client) -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": True}
    assert "additionalProperties" in status_and_message(http, user("x", output_config=fmt(schema)))[1]


def test_both_structured_output_forms_at_once_are_refused(http: httpx2.Client) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    both = user("x", output_config=fmt(schema), output_format={"type": "json_schema", "schema": schema})
    assert status_and_message(http, both) == (400, BOTH)
    legacy = user("x [[fake tokens=3]]", output_format={"type": "json_schema", "schema": schema})
    assert status_and_message(http, legacy)[0] == 200


def test_the_legacy_form_is_checked_too(http: httpx2.Client) -> None:
    bounded = {"type": "object", "properties": {"n": {"type": "number", "minimum": 0}}, "additionalProperties": False}
    status, message = status_and_message(http, user("x", output_format={"type": "json_schema", "schema": bounded}))
    assert status == 400 and message.startswith("output_format.schema: For 'number' type")


def test_citations_with_structured_output_are_refused(http: httpx2.Client) -> None:
    """Also what a structured triage of cited documents is (issue #16 item 5)."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [cited_document(True)]}
    assert status_and_message(http, body)[0] == 200
    status, message = status_and_message(http, {**body, "output_config": fmt(schema)})
    assert status == 400 and "Citations" in message
    legacy = {**body, "output_format": {"type": "json_schema", "schema": schema}}
    assert status_and_message(http, legacy)[0] == 400
    uncited = {**body, "messages": [cited_document(False)], "output_config": fmt(schema)}
    assert status_and_message(http, uncited)[0] == 200


def test_strict_tools_follow_the_same_schema_rules(http: httpx2.Client) -> None:
    tool = {
        "name": "rate",
        "strict": True,
        "input_schema": {"type": "object", "properties": {"r": {"type": "integer", "minimum": 1}}},
    }
    status, message = status_and_message(http, user("x", tools=[tool]))
    assert (status, message) == (400, "tools.0.custom: For 'integer' type, property 'minimum' is not supported")
    assert status_and_message(http, user("x [[fake tokens=2]]", tools=[{**tool, "strict": False}]))[0] == 200


def test_sdk_sees_the_shape_errors(fake: FakeUpstream) -> None:
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    nested = {"type": "object", "properties": {"answer": ITEM_SCHEMA}, "additionalProperties": False}
    with pytest.raises(anthropic.BadRequestError, match="could not be resolved"):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "x"}],
            output_config={"format": {"type": "json_schema", "schema": nested}},
        )
    with pytest.raises(anthropic.BadRequestError, match="Citations"):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[cited_document(True)],  # type: ignore[list-item]
            output_config={"format": {"type": "json_schema", "schema": ITEM_SCHEMA}},
        )
