"""What both translation directions share: field validation, stop reasons and usage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from tiered.errors import InvalidRequestError

__all__ = [
    "InvalidFieldError",
    "chat_usage",
    "expect_bool",
    "expect_dict",
    "expect_int",
    "expect_list",
    "expect_number",
    "expect_str",
    "finish_reason_for",
    "messages_usage",
    "stop_reason_for",
]


class InvalidFieldError(InvalidRequestError):
    """A request field is wrong. ``param`` is its dotted path (``messages.2.role``), which the OpenAI error
    body reports as ``param``."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_dict(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidFieldError(path, f"must be an object, got {_type_name(value)}")
    return value


def expect_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidFieldError(path, f"must be an array, got {_type_name(value)}")
    return value


def expect_str(value: object, path: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidFieldError(path, f"must be a string, got {_type_name(value)}")
    if non_empty and not value:
        raise InvalidFieldError(path, "must not be empty")
    return value


def expect_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidFieldError(path, f"must be a boolean, got {_type_name(value)}")
    return value


def expect_int(value: object, path: str, *, minimum: int = 0) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidFieldError(path, f"must be an integer, got {_type_name(value)}")
    if value < minimum:
        raise InvalidFieldError(path, f"must be >= {minimum}, got {value}")
    return value


def expect_number(value: object, path: str, *, minimum: float, maximum: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidFieldError(path, f"must be a number, got {_type_name(value)}")
    if not minimum <= value <= maximum:
        raise InvalidFieldError(path, f"must be between {minimum:g} and {maximum:g}, got {value:g}")
    return float(value)


_FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_STOP_REASONS: Final = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason_for(stop_reason: object) -> str:
    """OpenAI ``finish_reason`` for an Anthropic ``stop_reason`` (unknown ones read as ``stop``)."""
    return _FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stop_reason_for(finish_reason: object) -> str:
    """Anthropic ``stop_reason`` for an OpenAI ``finish_reason`` (unknown ones read as ``end_turn``)."""
    return _STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def chat_usage(usage: object) -> dict[str, Any]:
    """OpenAI ``usage`` from Anthropic usage: ``prompt_tokens`` counts cached input too."""
    u: Mapping[str, Any] = usage if isinstance(usage, Mapping) else {}
    cache_read = _count(u, "cache_read_input_tokens")
    prompt = _count(u, "input_tokens") + cache_read + _count(u, "cache_creation_input_tokens")
    completion = _count(u, "output_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def messages_usage(usage: object) -> dict[str, int]:
    """Anthropic usage from OpenAI ``usage``: cached prompt tokens become cache reads."""
    u: Mapping[str, Any] = usage if isinstance(usage, Mapping) else {}
    details = u.get("prompt_tokens_details")
    cached = _count(details, "cached_tokens") if isinstance(details, Mapping) else 0
    prompt = _count(u, "prompt_tokens")
    return {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": _count(u, "completion_tokens"),
        "cache_read_input_tokens": min(cached, prompt),
        "cache_creation_input_tokens": 0,
    }
