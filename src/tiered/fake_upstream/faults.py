"""Error answers shared by both dialects: request failures and the HTTP-status faults."""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass
from typing import Final

from tiered.fake_upstream.scenario import Fault

__all__ = ["STATUS_FAULTS", "Failure", "new_id", "status_failure"]

_ALNUM: Final = bytes.maketrans(b"+/", b"xQ")


def new_id(prefix: str, length: int = 24) -> str:
    """A random alphanumeric id in the style of the real API (``msg_01...``, ``req_01...``)."""
    return prefix + base64.b64encode(os.urandom(length)).translate(_ALNUM)[:length].decode()


@dataclass(frozen=True, slots=True)
class Failure:
    """An error answer: HTTP status, Anthropic error type, message and extra headers."""

    status: int
    error_type: str
    message: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


STATUS_FAULTS: Final[dict[str, tuple[int, str, str]]] = {
    "rate_limit": (429, "rate_limit_error", "Number of requests has exceeded your rate limit (fake upstream)."),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "api_error": (500, "api_error", "Internal server error"),
    "unavailable": (503, "api_error", "Service unavailable"),
    "gateway_timeout": (504, "timeout_error", "Request timed out"),
}

_RETRY = (b"x-should-retry", b"true")


def status_failure(fault: Fault) -> Failure | None:
    """The error answer of an HTTP-status fault; ``None`` for other kinds."""
    entry = STATUS_FAULTS.get(fault.kind)
    if entry is None:
        return None
    status, error_type, message = entry
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if status == 429:
        # retry-after is whole seconds by the HTTP spec; the SDKs prefer the exact retry-after-ms.
        headers = (
            (b"retry-after", str(math.ceil(fault.retry_after)).encode()),
            (b"retry-after-ms", str(round(fault.retry_after * 1000)).encode()),
            _RETRY,
        )
    elif status == 529:
        headers = (_RETRY,)
    return Failure(status, error_type, fault.message or message, headers)
