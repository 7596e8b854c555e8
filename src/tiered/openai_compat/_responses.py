"""Complete responses, both ways: Messages response <-> OpenAI ``chat.completion``.

A response that cannot be read raises :class:`tiered.errors.UpstreamProtocolError`: it came from an upstream.
Thinking blocks and server-tool blocks have no chat-completions equivalent and are left out.
"""

from __future__ import annotations

import json
from typing import Any

from tiered.errors import UpstreamProtocolError
from tiered.openai_compat._common import (
    chat_usage,
    finish_reason_for,
    messages_usage,
    stop_reason_for,
)

__all__ = ["chat_response_to_messages", "messages_response_to_chat", "tool_arguments"]


def tool_arguments(tool_input: object) -> str:
    """A tool_use ``input`` as the JSON text of an OpenAI tool call's ``arguments``."""
    return json.dumps(tool_input if tool_input is not None else {}, ensure_ascii=False)


def messages_response_to_chat(
    message: object, *, created: int, model: str | None = None, completion_id: str | None = None
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` for a Messages response.

    ``created`` is the Unix time to report (passed in: this module reads no clock); ``model`` defaults to
    the model that answered and ``completion_id`` to the message id.
    """
    if not isinstance(message, dict):
        raise UpstreamProtocolError("the Messages response is not a JSON object; it cannot be translated")
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {"name": str(block.get("name", "")), "arguments": tool_arguments(block.get("input"))},
                }
            )
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
        "refusal": None,
    }
    if tool_calls:
        reply["tool_calls"] = tool_calls
    return {
        "id": completion_id or str(message.get("id") or "chatcmpl-tiered"),
        "object": "chat.completion",
        "created": created,
        "model": model or str(message.get("model") or ""),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason_for(message.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": chat_usage(message.get("usage")),
    }


def chat_response_to_messages(completion: object) -> dict[str, Any]:
    """A Messages response for an OpenAI ``chat.completion`` (first choice)."""
    if not isinstance(completion, dict):
        raise UpstreamProtocolError("the chat completion is not a JSON object; check the upstream's base URL")
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamProtocolError("the chat completion has no choices; check the upstream's base URL")
    choice = choices[0]
    reply = choice.get("message")
    if not isinstance(reply, dict):
        raise UpstreamProtocolError("the chat completion's choices.0.message is not an object")
    blocks: list[dict[str, Any]] = []
    text = _text(reply.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    refusal = reply.get("refusal")
    if isinstance(refusal, str) and refusal:
        blocks.append({"type": "text", "text": refusal})
    calls = reply.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        blocks.append(_tool_use(call, i))
    stop_reason = stop_reason_for(choice.get("finish_reason"))
    if isinstance(refusal, str) and refusal and not text:
        stop_reason = "refusal"
    return {
        "id": str(completion.get("id") or "msg_openai"),
        "type": "message",
        "role": "assistant",
        "model": str(completion.get("model") or ""),
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": messages_usage(completion.get("usage")),
    }


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers answer with content parts
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def _tool_use(call: object, i: int) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(call, dict) or not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise UpstreamProtocolError(f"the chat completion's tool_calls.{i} has no function name")
    arguments = function.get("arguments") or "{}"
    try:
        tool_input = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        tool_input = None
    if not isinstance(tool_input, dict):
        raise UpstreamProtocolError(
            f"the model called tool {function['name']!r} with arguments that are not a JSON object"
        )
    call_id = call.get("id")
    return {
        "type": "tool_use",
        "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{i}",
        "name": function["name"],
        "input": tool_input,
    }
