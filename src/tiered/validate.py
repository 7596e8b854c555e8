"""Checks of a Messages request before any upstream call, with messages that name the field.

Only what tiered itself relies on is checked (and what would otherwise waste a triage call); everything else
is left to the upstream, which answers in its own words.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidRequestError

__all__ = ["validate_messages_request"]

_ROLES = ("user", "assistant")


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate_messages_request(request: Any, *, need_model: bool = False) -> dict[str, Any]:
    """Return ``request`` if it is a routable Messages request, else raise InvalidRequestError."""
    if not isinstance(request, dict):
        raise InvalidRequestError("request body: must be a JSON object")
    if need_model:
        model = request.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequestError("model: field required (a model id, or 'tiered' / 'tiered/<route>')")
        if not model.isascii() and _lone_surrogate(model):
            # JSON escapes can spell one ("\\ud800"); no model id is one, and no header or log line can carry it
            raise InvalidRequestError("model: not valid Unicode (it contains a lone surrogate); send a model id")
    max_tokens = request.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequestError("max_tokens: field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequestError("max_tokens: must be a positive integer")
    messages = request.get("messages")
    if messages is None:
        raise InvalidRequestError("messages: field required")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages: must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequestError(f"messages.{i}: must be an object")
        if message.get("role") not in _ROLES:
            raise InvalidRequestError(f"messages.{i}.role: must be 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise InvalidRequestError(f"messages.{i}.content: must be a string or a list of content blocks")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise InvalidRequestError(f"messages.{i}.content.{j}: must be a content block with a type")
    system = request.get("system")
    if system is not None and not isinstance(system, str | list):
        raise InvalidRequestError("system: must be a string or a list of text blocks")
    if isinstance(system, list):
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise InvalidRequestError(f"system.{j}: must be a text block")
    stream = request.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("stream: must be a boolean")
    for name in ("tools", "stop_sequences"):
        value = request.get(name)
        if value is not None and not isinstance(value, list):
            raise InvalidRequestError(f"{name}: must be a list")
    for name in ("temperature", "top_p"):
        value = request.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidRequestError(f"{name}: must be a number")
    for name in ("tool_choice", "thinking", "output_config", "metadata"):
        value = request.get(name)
        if value is not None and not isinstance(value, dict):
            raise InvalidRequestError(f"{name}: must be an object")
    return request
