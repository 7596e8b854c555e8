"""Mapping upstream failures to the tiered error tree.

Every message names the provider, says what went wrong and what to do. The API key is never in a message or
a kept body, even when an upstream echoes it back.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

import httpx2

from tiered.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from tiered.providers._settings import HTTPProviderSettings, safe_url

if TYPE_CHECKING:
    from tiered.providers._response import UpstreamResponse

__all__ = [
    "ErrorMapper",
    "error_type_for_status",
    "parse_retry_after",
    "should_retry_status",
    "status_for_error_type",
    "stream_error",
]

_RETRY_STATUSES: Final = frozenset({408, 409, 429})
_KEPT_HEADERS: Final = ("retry-after", "retry-after-ms", "request-id", "x-request-id", "x-should-retry")
_ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUSES: Final = {v: k for k, v in _ERROR_TYPES.items()} | {"api_error": 500}


def error_type_for_status(status: int) -> str:
    """The Anthropic error type that goes with an HTTP status."""
    return _ERROR_TYPES.get(status, "api_error")


def status_for_error_type(error_type: str) -> int:
    """The HTTP status that goes with an Anthropic error type (for errors sent inside a stream)."""
    return _STATUSES.get(error_type, 500)


def should_retry_status(status: int, headers: Mapping[str, str]) -> bool:
    """The retry rule: ``x-should-retry`` when the upstream sends it, else 408, 409, 429 and 5xx."""
    hint = headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in _RETRY_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if sent."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_ADVICE: Final = {
    400: "the upstream rejected the request; fix the field it names",
    401: "check the API key for this provider (or the key the client sent, in pass-through mode)",
    403: "the API key may not use this model or feature; check its permissions",
    404: "check the model name and the provider base URL",
    413: "the request is too large for the upstream; shorten it",
    429: "the upstream is rate limiting; retry later or lower the request rate",
    529: "the upstream is overloaded; retry later",
}


class ErrorMapper:
    """Builds the errors of one provider's calls."""

    def __init__(self, settings: HTTPProviderSettings, *, provider: str, base_url_hint: str) -> None:
        self.settings = settings
        self.provider = provider
        self.base_url_hint = base_url_hint

    def protocol_error(self, response: UpstreamResponse, model: str, what: str) -> UpstreamProtocolError:
        """A 2xx answer that is not the API's (``what`` says how): usually a base URL pointing elsewhere."""
        return UpstreamProtocolError(
            f"{self.provider} answered HTTP {response.status_code} with {what} "
            f"({response.headers.get('content-type', 'no content-type')}); check that the base URL "
            f"{safe_url(self.settings.base_url)} ({self.base_url_hint}) points at its API",
            provider=self.provider,
            model=model,
            request_id=_request_id(response.headers, None),
            headers=_kept_headers(response.headers),
        )

    def transport_error(
        self, exc: httpx2.HTTPError, model: str, *, mid_stream: bool = False, retries: int = 0
    ) -> UpstreamError:
        """Map an httpx2 exception raised while talking to the upstream."""
        url = safe_url(self.settings.base_url)
        where = "while streaming the response" if mid_stream else f"calling {url}"
        detail = self._redact(str(exc) or type(exc).__name__)
        gave_up = f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})" if retries else ""
        kwargs: dict[str, Any] = {"provider": self.provider, "model": model}
        if isinstance(exc, httpx2.TimeoutException):
            limit = (
                f"connect timeout {self.settings.connect_timeout_s:g}s"
                if isinstance(exc, httpx2.ConnectTimeout)
                else f"timeout {self.settings.timeout_s:g}s"
            )
            return UpstreamTimeoutError(
                f"{self.provider} timed out {where} ({type(exc).__name__}, {limit}); the upstream is slow "
                f"or unreachable: retry later, or raise the timeout{gave_up}",
                retryable=not mid_stream,
                **kwargs,
            )
        if isinstance(exc, httpx2.DecodingError):
            return UpstreamProtocolError(
                f"{self.provider} sent a body that could not be decoded {where}: {detail}{gave_up}", **kwargs
            )
        retryable = isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError) and not mid_stream
        if mid_stream:
            message = f"{self.provider} dropped the connection {where}: {detail}; retry the request"
        else:
            message = (
                f"{self.provider} could not be reached at {url}: {detail}; check {self.base_url_hint} "
                f"and that the upstream is running{gave_up}"
            )
        return UpstreamConnectionError(message, retryable=retryable, **kwargs)

    def status_error(self, response: UpstreamResponse, model: str, *, retries: int = 0) -> UpstreamStatusError:
        """Map an HTTP error status (body already read) with the upstream's error JSON."""
        status = response.status_code
        headers = response.headers
        body: dict[str, Any] | None = None
        try:
            value = json.loads(response.content)
            body = value if isinstance(value, dict) else None
        except ValueError:
            body = None
        error_type, upstream_message = _error_fields(body)
        if upstream_message is None:
            text = response.content[:500].decode("utf-8", "replace").strip()
            upstream_message = text or response.reason_phrase or "no error body"
        error_type = error_type or error_type_for_status(status)
        advice = _ADVICE.get(status) or (
            "upstream server error; retry later" if status >= 500 else "see the upstream's message"
        )
        if status == 404:
            advice += f" ({safe_url(self.settings.base_url)}, {self.base_url_hint})"
        retry_after = parse_retry_after(headers, time.time())
        if retry_after is not None:
            advice += f"; the upstream asks to wait {retry_after:g}s"
        if retries:
            advice += f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})"
        advice = advice[0].upper() + advice[1:]
        message = f"{self.provider} returned HTTP {status} {error_type}: {upstream_message.rstrip('. ')}. {advice}"
        return UpstreamStatusError(
            self._redact(message),
            provider=self.provider,
            model=model,
            status=status,
            error_type=error_type,
            request_id=_request_id(headers, body),
            retry_after=retry_after,
            retryable=should_retry_status(status, headers),
            body=self._redact_body(body),
            headers=_kept_headers(headers),
        )

    def _redact(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key and key in text else text

    def _redact_body(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        key = self.settings.api_key
        if body is None or not key:
            return body
        text = json.dumps(body)
        if key not in text:
            return body
        redacted: dict[str, Any] = json.loads(text.replace(key, "***"))
        return redacted


_RETRYABLE_TYPES: Final = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


def stream_error(
    payload: Mapping[str, Any], *, provider: str, model: str, request_id: str | None
) -> UpstreamStatusError:
    """The error sent inside a stream that had started (Anthropic ``event: error`` or an OpenAI ``error``
    chunk). It is never retried here: part of the answer may already be on its way to the client."""
    error_type, message = _error_fields(payload)
    error_type = error_type or "api_error"
    body_request_id = payload.get("request_id")
    return UpstreamStatusError(
        f"{provider} sent an error mid-stream: {error_type}: {message or 'no message'}. The answer is "
        "incomplete; retry the request",
        provider=provider,
        model=model,
        status=status_for_error_type(error_type),
        error_type=error_type,
        request_id=body_request_id if isinstance(body_request_id, str) else request_id,
        retryable=error_type in _RETRYABLE_TYPES,
        body=payload,
    )


def _error_fields(body: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(type, message) from an Anthropic ``{"error": {"type", "message"}}``, an OpenAI
    ``{"error": {"message", "type", "code"}}`` or a plain ``{"error": "text"}`` body."""
    if body is None:
        return None, None
    error = body.get("error")
    if isinstance(error, str):
        return None, error
    if not isinstance(error, Mapping):
        message = body.get("message") or body.get("detail")
        return None, message if isinstance(message, str) else None
    error_type = error.get("type")
    message = error.get("message")
    return (
        error_type if isinstance(error_type, str) and error_type else None,
        message if isinstance(message, str) and message else None,
    )


def _request_id(headers: Mapping[str, str], body: Mapping[str, Any] | None) -> str | None:
    value = headers.get("request-id") or headers.get("x-request-id")
    if value is None and body is not None and isinstance(body.get("request_id"), str):
        value = body["request_id"]
    return value


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}
