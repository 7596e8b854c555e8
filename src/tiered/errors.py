"""The one error hierarchy of tiered.

Every message says what went wrong and what to do next. Foreign exceptions (httpx2, the database driver,
the TOML parser) are mapped to these at the boundary with ``raise ... from exc``::

    TieredError
    ├── ConfigError                 a config file, env var or flag is wrong (exit code 2 on the CLI)
    ├── InvalidRequestError         the caller's request cannot be routed (HTTP 400 invalid_request_error)
    │   └── RequestTooLargeError    the body is over the configured limit (HTTP 413 request_too_large)
    ├── AuthenticationError         missing or unknown key (HTTP 401 authentication_error)
    ├── PermissionDeniedError       the key may not do this (HTTP 403 permission_error)
    ├── NotFoundError               no such route, decision or key (HTTP 404 not_found_error)
    ├── OverloadedError             tiered itself sheds load (HTTP 529 overloaded_error / 429 rate_limit_error)
    └── UpstreamError               a provider call failed; keeps status, error type, request id, retry hint
        ├── UpstreamStatusError     the provider answered with an HTTP error status and its error JSON
        ├── UpstreamTimeoutError    no (complete) answer within the timeout
        ├── UpstreamConnectionError the connection could not be made or was dropped
        └── UpstreamProtocolError   the provider answered with something that is not its API (bad JSON, SSE)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "InvalidRequestError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "TieredError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamStatusError",
    "UpstreamTimeoutError",
]


class TieredError(Exception):
    """Base of every error tiered raises on purpose.

    ``status`` and ``error_type`` give the HTTP status and the Anthropic error type that the proxy answers
    with; the OpenAI endpoint maps the same pair to its own shape.
    """

    status: int = 500
    error_type: str = "api_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.decision_id: str | None = None  # set when the failed request was recorded as a decision


class ConfigError(TieredError):
    """A config file, environment variable or flag is invalid."""

    status = 500
    error_type = "api_error"


class InvalidRequestError(TieredError):
    """The caller's request is malformed; the message names the field (and ``param`` holds it, when known)."""

    status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        if param is None and ": " in message and " " not in message.split(": ", 1)[0]:
            param = message.split(": ", 1)[0]
        self.param = param


class RequestTooLargeError(InvalidRequestError):
    status = 413
    error_type = "request_too_large"


class AuthenticationError(TieredError):
    status = 401
    error_type = "authentication_error"


class PermissionDeniedError(TieredError):
    status = 403
    error_type = "permission_error"


class NotFoundError(TieredError):
    status = 404
    error_type = "not_found_error"


class OverloadedError(TieredError):
    """tiered refuses work to protect itself; ``retry_after`` seconds is sent to the client."""

    status = 529
    error_type = "overloaded_error"

    def __init__(self, message: str, *, retry_after: float = 1.0, status: int = 529) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        if status == 429:
            self.error_type = "rate_limit_error"


class UpstreamError(TieredError):
    """A call to a provider failed.

    ``model`` and ``provider`` say which call; ``retryable`` says whether trying again may help.
    """

    status = 502
    error_type = "api_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        self.request_id = request_id
        self.retry_after = retry_after
        self.retryable = retryable
        self.body = dict(body) if body is not None else None
        self.headers = dict(headers) if headers is not None else {}

    def __str__(self) -> str:
        parts = [self.message]
        if self.model:
            parts.append(f"model={self.model}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class UpstreamStatusError(UpstreamError):
    """The provider answered with an HTTP error status; ``body`` is its error JSON when it sent one."""


class UpstreamTimeoutError(UpstreamError):
    status = 504
    error_type = "timeout_error"


class UpstreamConnectionError(UpstreamError):
    status = 502
    error_type = "api_error"


class UpstreamProtocolError(UpstreamError):
    status = 502
    error_type = "api_error"
