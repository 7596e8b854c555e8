"""What the fake needs to know about a request, read from an Anthropic or an OpenAI body (already validated).

Triage detection follows the contract in :mod:`tiered.cascade.triage`: a json_schema output format whose properties
include ``confidence`` and ``answer``, or a forced call of the ``tiered_triage`` tool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from tiered.cascade.triage import TRIAGE_TOOL_NAME, caller_output_schema

__all__ = [
    "ForcedTool",
    "Prompt",
    "TriageMode",
    "anthropic_prompt",
    "content_chars",
    "estimate_tokens",
    "openai_prompt",
    "tool_chars",
]

TriageMode = Literal["structured", "tool"]

# Images and documents have no text to count; this is roughly what a small image costs.
_ATTACHMENT_CHARS = 6000


@dataclass(frozen=True, slots=True)
class ForcedTool:
    """A tool the request forces (non-triage): the reply is a call with an input that fits ``schema``."""

    name: str
    schema: dict[str, Any]
    named: bool  # forced by name (OpenAI then reports finish_reason "stop", not "tool_calls")


@dataclass(frozen=True, slots=True)
class Prompt:
    model: str
    last_user_text: str
    conversation: str  # every message's text, hashed for the deterministic default reply
    input_tokens: int
    max_tokens: int | None
    stream: bool
    triage: TriageMode | None = None
    answer_schema: dict[str, Any] | None = None  # triage: the caller's schema nested as the answer
    output_schema: dict[str, Any] | None = None  # not a triage: the caller's structured output schema
    forced_tool: ForcedTool | None = None
    include_usage: bool = False  # OpenAI stream_options.include_usage
    stop_sequences: tuple[str, ...] = ()
    # the prompt cache's share of input_tokens (Anthropic only): read, and written for 5 minutes or 1 hour;
    # input_tokens is then the uncached rest
    cache_read_input_tokens: int = 0
    cache_write_5m_input_tokens: int = 0
    cache_write_1h_input_tokens: int = 0


def estimate_tokens(chars: int) -> int:
    """About four characters per token, never zero."""
    return max(1, (chars + 3) // 4)


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return str(block["text"])
    if kind == "tool_result":
        return _content_text(block.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (_block_text(b) for b in content) if t)
    return ""


def content_chars(content: Any) -> int:
    """The characters the fake counts for a message (or system) content: text, tool calls and results,
    a fixed amount per attachment."""
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("text", "tool_result"):
            total += len(_block_text(block))
        elif kind == "tool_use":
            total += len(json.dumps(block.get("input", {}))) + len(str(block.get("name", "")))
        elif kind in ("image", "document", "image_url", "input_audio", "file"):
            total += _ATTACHMENT_CHARS
    return total


def tool_chars(tool: dict[str, Any]) -> int:
    """The characters the fake counts for an Anthropic tool definition."""
    return (
        len(str(tool.get("name", "")))
        + len(str(tool.get("description", "")))
        + len(json.dumps(tool.get("input_schema", {})))
    )


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _conversation(messages: list[Any]) -> str:
    parts = []
    for message in messages:
        if isinstance(message, dict):
            parts.append(f"{message.get('role')}:{_content_text(message.get('content'))}")
    return "\n".join(parts)


def _triage_answer_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The caller's schema when ``answer`` is ``anyOf: [<schema>, null]``; ``None`` for a plain string."""
    answer = schema.get("properties", {}).get("answer")
    if not isinstance(answer, dict):
        return None
    options = answer.get("anyOf")
    candidates = options if isinstance(options, list) else [answer]
    for option in candidates:
        if isinstance(option, dict) and option.get("type") not in ("null", "string"):
            # the caller's definitions sit at the triage schema's root (tiered.cascade.schema_refs): keep them reachable
            defs = schema.get("$defs")
            return {**option, "$defs": defs} if isinstance(defs, dict) and "$defs" not in option else option
    return None


def _is_triage_schema(schema: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    if schema is None:
        return False
    properties = schema.get("properties")
    return isinstance(properties, dict) and "confidence" in properties and "answer" in properties


def anthropic_prompt(body: dict[str, Any]) -> Prompt:
    messages: list[Any] = body["messages"]
    system = body.get("system")
    chars = len(system) if isinstance(system, str) else content_chars(system)
    chars += sum(content_chars(m.get("content")) for m in messages if isinstance(m, dict))
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    chars += sum(tool_chars(tool) for tool in tools)
    common: dict[str, Any] = {
        "model": body["model"],
        "last_user_text": _last_user_text(messages),
        "conversation": _conversation(messages),
        "input_tokens": estimate_tokens(chars),
        "max_tokens": body.get("max_tokens"),
        "stream": body.get("stream") is True,
        "stop_sequences": tuple(s for s in body.get("stop_sequences") or () if isinstance(s, str)),
    }
    schema = caller_output_schema(body)
    if _is_triage_schema(schema):
        return Prompt(**common, triage="structured", answer_schema=_triage_answer_schema(schema))
    choice = body.get("tool_choice")
    by_name = {str(t.get("name")): t for t in tools}
    if isinstance(choice, dict) and choice.get("type") == "tool":
        name = str(choice.get("name"))
        tool_schema = by_name.get(name, {}).get("input_schema") or {"type": "object"}
        if name == TRIAGE_TOOL_NAME:
            return Prompt(**common, triage="tool", answer_schema=_triage_answer_schema(tool_schema))
        return Prompt(**common, forced_tool=ForcedTool(name, tool_schema, named=True))
    if isinstance(choice, dict) and choice.get("type") == "any" and tools:
        first = tools[0]
        forced = ForcedTool(str(first.get("name")), first.get("input_schema") or {"type": "object"}, False)
        return Prompt(**common, forced_tool=forced)
    return Prompt(**common, output_schema=schema)


def _openai_stops(stop: Any) -> tuple[str, ...]:
    """Chat completions' ``stop``: a string or a list of up to four; generation ends before the first one the
    reply reaches, and "the model response will not contain the stop sequence", with ``finish_reason``
    ``stop`` (https://help.openai.com/en/articles/5072263-how-do-i-use-stop-sequences-in-the-openai-api)."""
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list):
        return tuple(s for s in stop if isinstance(s, str))
    return ()


def openai_prompt(body: dict[str, Any]) -> Prompt:
    messages: list[Any] = body["messages"]
    chars = sum(content_chars(m.get("content")) for m in messages if isinstance(m, dict))
    functions = [
        t["function"] for t in body.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    for function in functions:
        chars += len(str(function.get("name", ""))) + len(str(function.get("description", "")))
        chars += len(json.dumps(function.get("parameters", {})))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    stream_options = body.get("stream_options")
    common: dict[str, Any] = {
        "model": body["model"],
        "last_user_text": _last_user_text(messages),
        "conversation": _conversation(messages),
        "input_tokens": estimate_tokens(chars),
        "max_tokens": max_tokens,
        "stream": body.get("stream") is True,
        "include_usage": isinstance(stream_options, dict) and stream_options.get("include_usage") is True,
        "stop_sequences": _openai_stops(body.get("stop")),
    }
    schema: dict[str, Any] | None = None
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        json_schema = response_format.get("json_schema")
        if isinstance(json_schema, dict) and isinstance(json_schema.get("schema"), dict):
            schema = json_schema["schema"]
    if _is_triage_schema(schema):
        return Prompt(**common, triage="structured", answer_schema=_triage_answer_schema(schema))
    choice = body.get("tool_choice")
    by_name = {str(f.get("name")): f for f in functions}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = str(choice["function"].get("name"))
        parameters = by_name.get(name, {}).get("parameters") or {"type": "object"}
        if name == TRIAGE_TOOL_NAME:
            return Prompt(**common, triage="tool", answer_schema=_triage_answer_schema(parameters))
        return Prompt(**common, forced_tool=ForcedTool(name, parameters, named=True))
    if choice == "required" and functions:
        first = functions[0]
        forced = ForcedTool(str(first.get("name")), first.get("parameters") or {"type": "object"}, False)
        return Prompt(**common, forced_tool=forced)
    return Prompt(**common, output_schema=schema)
