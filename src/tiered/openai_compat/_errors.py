"""tiered errors in the OpenAI error shape: ``{"error": {"message", "type", "param", "code"}}``.

The HTTP status stays the error's own (``error.status``); only the body changes shape. OpenAI reports most
client errors as ``invalid_request_error`` and tells them apart by ``code``, so the Anthropic error types
are mapped to that pair.
"""

from __future__ import annotations

from typing import Any, Final

from tiered.errors import TieredError
from tiered.openai_compat._stream_to_chat import sse_data_line

__all__ = ["chat_error_body", "chat_error_line"]

_TYPES: Final[dict[str, tuple[str, str | None]]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "authentication_error": ("invalid_request_error", "invalid_api_key"),
    "permission_error": ("invalid_request_error", "permission_denied"),
    "not_found_error": ("invalid_request_error", "not_found"),
    "rate_limit_error": ("rate_limit_error", "rate_limit_exceeded"),
    "overloaded_error": ("server_error", "overloaded"),
    "timeout_error": ("server_error", "timeout"),
    "api_error": ("server_error", None),
}


def chat_error_body(error: TieredError) -> dict[str, Any]:
    """The OpenAI error body for ``error``; ``param`` is the bad field when the error names one."""
    error_type, code = _TYPES.get(
        error.error_type, ("server_error" if error.status >= 500 else "invalid_request_error", None)
    )
    param = getattr(error, "param", None)
    return {
        "error": {
            "message": str(error),
            "type": error_type,
            "param": param if isinstance(param, str) else None,
            "code": code,
        }
    }


def chat_error_line(error: TieredError) -> bytes:
    """The error as a ``data:`` event, for a failure after an OpenAI stream has started."""
    return sse_data_line(chat_error_body(error))
