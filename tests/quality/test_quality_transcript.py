"""The stored transcript of a request keeps the schema its answer obeys, in either structured-output form."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.quality.transcript import parse_request_text, request_text

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
FORMAT: dict[str, Any] = {"type": "json_schema", "schema": SCHEMA}


@pytest.mark.parametrize(
    "extra",
    [
        {"output_config": {"format": FORMAT}},
        {"output_format": FORMAT},  # the structured-outputs beta's legacy parameter
    ],
)
def test_the_caller_schema_is_stored(extra: dict[str, Any]) -> None:
    request = {"messages": [{"role": "user", "content": "2+2 as JSON"}], **extra}
    assert parse_request_text(request_text(request)).output_schema == SCHEMA


def test_a_request_without_a_schema_stores_none() -> None:
    assert parse_request_text(request_text({"messages": [{"role": "user", "content": "hi"}]})).output_schema is None
