"""The request text kept for an audit sample, and reading it back for a grader.

A grader needs the conversation, not the wire request: the stored text is a small JSON document
``{"v": 1, "system": str | null, "messages": [{"role", "text"}], "tools": [names], "output_schema": {...}}``
with every content block flattened to text (images and documents become ``[image]`` / ``[document]``, so a
sample never stores base64 payloads). It goes through the store's redaction like any stored text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiered.cascade.triage import caller_output_schema

__all__ = ["StoredMessage", "StoredRequest", "parse_request_text", "render_transcript", "request_text"]

FORMAT = 1
_PLACEHOLDERS = {"image": "[image]", "document": "[document]", "search_result": "[search result]"}


@dataclass(frozen=True, slots=True)
class StoredMessage:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request as a grader reads it."""

    system: str | None
    messages: tuple[StoredMessage, ...]
    tools: tuple[str, ...] = ()
    output_schema: dict[str, Any] | None = None


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, Mapping):
        return ""
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return text if isinstance(text, str) else ""
    if kind == "tool_use":
        return f"[tool call {block.get('name')}: {json.dumps(block.get('input'), ensure_ascii=False)}]"
    if kind == "tool_result":
        return f"[tool result: {_content_text(block.get('content'))}]"
    if kind in ("thinking", "redacted_thinking"):
        return ""
    return _PLACEHOLDERS.get(str(kind), f"[{kind}]")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (_block_text(b) for b in content) if t)
    return ""


def request_text(request: Mapping[str, Any]) -> str:
    """The stored text of a Messages request (see the module docstring)."""
    system = request.get("system")
    messages = request.get("messages")
    tools = request.get("tools")
    # output_config.format, or the structured-outputs beta's legacy output_format: the schema the answer obeys
    schema = caller_output_schema(request if isinstance(request, dict) else dict(request))
    doc = {
        "v": FORMAT,
        "system": _content_text(system) if system is not None else None,
        "messages": [
            {"role": str(m.get("role")), "text": _content_text(m.get("content"))}
            for m in (messages if isinstance(messages, list) else [])
            if isinstance(m, Mapping)
        ],
        "tools": [str(t.get("name")) for t in (tools if isinstance(tools, list) else []) if isinstance(t, Mapping)],
        "output_schema": schema,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def parse_request_text(text: str) -> StoredRequest:
    """Read stored text back; text in any other shape (older rows, ``store_content`` from elsewhere) is taken
    as one user message."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("v") != FORMAT or not isinstance(doc.get("messages"), list):
        return StoredRequest(system=None, messages=(StoredMessage("user", text),))
    system = doc.get("system")
    schema = doc.get("output_schema")
    return StoredRequest(
        system=system if isinstance(system, str) and system else None,
        messages=tuple(
            StoredMessage(str(m.get("role", "user")), str(m.get("text", "")))
            for m in doc["messages"]
            if isinstance(m, dict)
        ),
        tools=tuple(str(t) for t in doc.get("tools") or []),
        output_schema=schema if isinstance(schema, dict) else None,
    )


def render_transcript(request: StoredRequest) -> str:
    """The conversation as plain text, one ``[role]`` header per message."""
    parts = []
    if request.system:
        parts.append(f"[system]\n{request.system}")
    parts.extend(f"[{m.role}]\n{m.text}" for m in request.messages)
    if request.tools:
        parts.append(f"[tools offered]\n{', '.join(request.tools)}")
    if request.output_schema is not None:
        parts.append(f"[answer must fit this JSON schema]\n{json.dumps(request.output_schema, ensure_ascii=False)}")
    return "\n\n".join(parts)
