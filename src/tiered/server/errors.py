"""Error responses in each API's own shape, with the matching status code and headers."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response

from ..errors import OverloadedError, TieredError, UpstreamError
from .common import header_value

__all__ = ["anthropic_error_response", "error_headers", "openai_error_response"]


def error_headers(exc: TieredError) -> dict[str, str]:
    """``retry-after`` and the upstream's request id, when known, plus the decision id."""
    headers: dict[str, str] = {}
    retry_after: float | None = None
    if isinstance(exc, UpstreamError | OverloadedError):
        retry_after = exc.retry_after
    if retry_after is not None:
        # never tell a client to come back sooner than the upstream asked
        headers["retry-after"] = str(max(0, math.ceil(retry_after)))
    if isinstance(exc, UpstreamError):
        if exc.request_id:
            headers["request-id"] = header_value(exc.request_id)
        should_retry = exc.headers.get("x-should-retry")
        if should_retry:
            headers["x-should-retry"] = header_value(should_retry)
    if exc.decision_id:
        headers["x-tiered-decision-id"] = exc.decision_id
    return headers


def _status(exc: TieredError) -> int:
    return exc.status if 400 <= exc.status <= 599 else 500


def anthropic_error_response(exc: TieredError, extra_headers: dict[str, str] | None = None) -> Response:
    """``{"type": "error", "error": {...}, "request_id": ...}``; an upstream's own error JSON is kept."""
    body: dict[str, Any]
    if isinstance(exc, UpstreamError) and exc.body and isinstance(exc.body.get("error"), dict):
        body = exc.body
    else:
        body = {"type": "error", "error": {"type": exc.error_type, "message": exc.message}}
        if isinstance(exc, UpstreamError) and exc.request_id:
            body["request_id"] = exc.request_id
    headers = {**error_headers(exc), **(extra_headers or {})}
    return Response(json.dumps(body), status_code=_status(exc), headers=headers, media_type="application/json")


def openai_error_response(exc: TieredError, extra_headers: dict[str, str] | None = None) -> Response:
    """``{"error": {"message", "type", "param", "code"}}`` as the OpenAI API answers."""
    from ..openai_compat import chat_error_body

    body = chat_error_body(exc)
    if isinstance(exc, UpstreamError) and exc.body and isinstance(exc.body.get("error"), dict):
        body["error"]["message"] = str(exc.body["error"].get("message") or exc.message)
    headers = {**error_headers(exc), **(extra_headers or {})}
    return Response(json.dumps(body), status_code=_status(exc), headers=headers, media_type="application/json")
