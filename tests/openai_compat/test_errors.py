"""tiered errors in the OpenAI error shape."""

from __future__ import annotations

import json

import pytest

from tiered.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RequestTooLargeError,
    TieredError,
    UpstreamConnectionError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from tiered.openai_compat import InvalidFieldError, chat_error_body, chat_error_line


@pytest.mark.parametrize(
    ("error", "error_type", "code"),
    [
        (InvalidRequestError("bad"), "invalid_request_error", None),
        (RequestTooLargeError("big"), "invalid_request_error", "request_too_large"),
        (AuthenticationError("who"), "invalid_request_error", "invalid_api_key"),
        (PermissionDeniedError("no"), "invalid_request_error", "permission_denied"),
        (NotFoundError("none"), "invalid_request_error", "not_found"),
        (OverloadedError("busy", status=429), "rate_limit_error", "rate_limit_exceeded"),
        (OverloadedError("busy"), "server_error", "overloaded"),
        (UpstreamTimeoutError("slow"), "server_error", "timeout"),
        (UpstreamConnectionError("down"), "server_error", None),
        (UpstreamStatusError("odd", status=418, error_type="teapot_error"), "invalid_request_error", None),
        (UpstreamStatusError("odd", status=503, error_type="weird_error"), "server_error", None),
        (TieredError("generic"), "server_error", None),
    ],
)
def test_error_types_and_codes(error: TieredError, error_type: str, code: str | None) -> None:
    body = chat_error_body(error)
    assert body == {"error": {"message": str(error), "type": error_type, "param": None, "code": code}}


def test_param_names_the_bad_field() -> None:
    body = chat_error_body(InvalidFieldError("messages.2.role", "must be one of user, assistant"))
    assert body["error"]["param"] == "messages.2.role"
    assert body["error"]["message"] == "messages.2.role: must be one of user, assistant"


def test_upstream_message_includes_the_request_id() -> None:
    error = UpstreamStatusError("anthropic returned HTTP 529", model="m", request_id="req_1", status=529,
                                error_type="overloaded_error")  # fmt: skip
    assert "req_1" in chat_error_body(error)["error"]["message"]


def test_error_line_is_one_data_event() -> None:
    line = chat_error_line(InvalidRequestError("bad"))
    assert line.startswith(b"data: ") and line.endswith(b"\n\n")
    assert json.loads(line[6:])["error"]["type"] == "invalid_request_error"
