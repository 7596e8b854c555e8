"""Request validation in the style of the real APIs: the first problem found, as ``"<field path>: <problem>"``."""

from __future__ import annotations

from typing import Any

__all__ = ["validate_chat", "validate_messages"]

_ANTHROPIC_ROLES = ("user", "assistant")
_OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_model(body: dict[str, Any]) -> str | None:
    if "model" not in body:
        return "model: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a non-empty string"
    return None


def _check_max_tokens(name: str, value: Any) -> str | None:
    if not _is_int(value):
        return f"{name}: Input should be a valid integer"
    if value < 1:
        return f"{name}: Input should be greater than or equal to 1"
    return None


def _check_content(where: str, content: Any, *, allow_none: bool) -> str | None:
    if content is None and allow_none:
        return None
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"{where}: Input should be a valid string or a list of content blocks"
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            return f"{where}.{j}: Input should be an object"
        if not isinstance(block.get("type"), str):
            return f"{where}.{j}.type: Field required"
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            return f"{where}.{j}.text: Input should be a valid string"
    return None


def _check_messages(body: dict[str, Any], roles: tuple[str, ...], *, openai: bool) -> str | None:
    if "messages" not in body:
        return "messages: Field required"
    messages = body["messages"]
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages.{i}: Input should be an object"
        role = message.get("role")
        if role not in roles:
            allowed = ", ".join(repr(r) for r in roles)
            return f"messages.{i}.role: Input should be one of {allowed}"
        if "content" not in message and not (openai and role == "assistant"):
            return f"messages.{i}.content: Field required"
        problem = _check_content(f"messages.{i}.content", message.get("content"), allow_none=openai)
        if problem:
            return problem
    return None


def _check_sampling(body: dict[str, Any], top: float) -> str | None:
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    temperature = body.get("temperature")
    if temperature is not None:
        if not _is_number(temperature):
            return "temperature: Input should be a valid number"
        if not 0 <= temperature <= top:
            return f"temperature: Input should be between 0 and {top:g}"
    return None


def validate_messages(body: Any, *, require_max_tokens: bool = True) -> str | None:
    """Check an Anthropic Messages (or count_tokens) body; ``None`` when it is acceptable."""
    if not isinstance(body, dict):
        return "body: Input should be a JSON object"
    problem = _check_model(body)
    if problem:
        return problem
    if "max_tokens" in body or require_max_tokens:
        if "max_tokens" not in body:
            return "max_tokens: Field required"
        problem = _check_max_tokens("max_tokens", body["max_tokens"])
        if problem:
            return problem
    problem = _check_messages(body, _ANTHROPIC_ROLES, openai=False)
    if problem:
        return problem
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return "system: Input should be a valid string or a list of text blocks"
    if isinstance(system, list):
        problem = _check_content("system", system, allow_none=False)
        if problem:
            return problem
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "tools: Input should be a valid list"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        names = {t.get("name") for t in tools or [] if isinstance(t, dict)}
        if choice.get("name") not in names:
            return f"tool_choice.name: tool {choice.get('name')!r} is not among the request's tools"
    return _check_sampling(body, 1.0)


def validate_chat(body: Any) -> str | None:
    """Check an OpenAI chat completions body; ``None`` when it is acceptable."""
    if not isinstance(body, dict):
        return "body: Input should be a JSON object"
    problem = _check_model(body) or _check_messages(body, _OPENAI_ROLES, openai=True)
    if problem:
        return problem
    for name in ("max_tokens", "max_completion_tokens"):
        if body.get(name) is not None:
            problem = _check_max_tokens(name, body[name])
            if problem:
                return problem
    return _check_sampling(body, 2.0)
