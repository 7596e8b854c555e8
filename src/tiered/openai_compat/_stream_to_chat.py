"""Messages stream events -> OpenAI ``chat.completion.chunk`` ``data:`` lines (the proxy's OpenAI endpoint).

The chunks are: one with the assistant role, one per text or tool-call delta, one with ``finish_reason``,
then (with ``include_usage``) one with ``usage`` and no choices, then ``data: [DONE]``. Text and tool deltas
are on the hot path: their line is the precomputed head of the chunk plus the JSON of the delta alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from tiered.openai_compat._common import chat_usage, finish_reason_for
from tiered.openai_compat._responses import tool_arguments

__all__ = ["DONE_LINE", "MessagesToChatStream", "sse_data_line"]

DONE_LINE: Final = b"data: [DONE]\n\n"
_USAGE_KEYS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def sse_data_line(payload: Mapping[str, Any]) -> bytes:
    """One ``data:`` event with ``payload`` as compact JSON."""
    return b"data: " + _dumps(payload) + b"\n\n"


def _dumps(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class MessagesToChatStream:
    """Feed Messages events in order; each :meth:`feed` returns the OpenAI lines to send now.

    ``created`` is the Unix time to report; ``model`` and ``completion_id`` default to those of the
    ``message_start`` event. After ``message_stop`` (or an ``error`` event) :attr:`done` is true and the
    lines sent so far form a complete OpenAI stream.
    """

    def __init__(
        self,
        *,
        created: int,
        include_usage: bool = False,
        model: str | None = None,
        completion_id: str | None = None,
    ) -> None:
        self._created = created
        self._include_usage = include_usage
        self._model = model
        self._id = completion_id
        self._usage: dict[str, int] = {}
        self._finish_reason = "stop"
        self._tool_index: dict[int, int] = {}  # Messages block index -> OpenAI tool call index
        self._head = b""
        self._tail = b""
        self.done = False

    def feed(self, event_type: str, data: Mapping[str, Any]) -> list[bytes]:
        if self.done:
            return []
        if event_type == "content_block_delta":
            return self._delta(data)
        if event_type == "message_start":
            return self._start(data)
        if event_type == "content_block_start":
            return self._block_start(data)
        if event_type == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason") is not None:
                self._finish_reason = finish_reason_for(delta["stop_reason"])
            self._add_usage(data.get("usage"))
            return []
        if event_type == "message_stop":
            return self._stop()
        if event_type == "error":
            self.done = True
            error = data.get("error")
            error = error if isinstance(error, Mapping) else {}
            body = {
                "error": {
                    "message": str(error.get("message") or "upstream error"),
                    "type": str(error.get("type") or "api_error"),
                    "param": None,
                    "code": None,
                }
            }
            return [sse_data_line(body)]
        return []  # ping, content_block_stop and unknown events say nothing to an OpenAI client

    def _ensure_head(self) -> None:
        if not self._head:
            self._head = (
                b'data: {"id":'
                + _dumps(self._id or "chatcmpl-tiered")
                + b',"object":"chat.completion.chunk","created":'
                + str(self._created).encode()
                + b',"model":'
                + _dumps(self._model or "")
                + b',"choices":[{"index":0,"delta":'
            )
            usage = b',"usage":null' if self._include_usage else b""
            self._tail = b',"logprobs":null,"finish_reason":null}]' + usage + b"}\n\n"

    def _chunk(self, delta: Mapping[str, Any]) -> bytes:
        self._ensure_head()
        return self._head + _dumps(delta) + self._tail

    def _start(self, data: Mapping[str, Any]) -> list[bytes]:
        message = data.get("message")
        if isinstance(message, Mapping):
            if self._id is None and isinstance(message.get("id"), str):
                self._id = message["id"]
            if self._model is None and isinstance(message.get("model"), str):
                self._model = message["model"]
            self._add_usage(message.get("usage"))
        self._head = b""
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: Mapping[str, Any]) -> list[bytes]:
        block = data.get("content_block")
        if not isinstance(block, Mapping):
            return []
        if block.get("type") == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if block.get("type") != "tool_use":
            return []
        index = data.get("index")
        position = len(self._tool_index)
        if isinstance(index, int):
            self._tool_index[index] = position
        tool_input = block.get("input")
        call = {
            "index": position,
            "id": str(block.get("id", "")),
            "type": "function",
            "function": {
                "name": str(block.get("name", "")),
                # Streamed tool input arrives as deltas; a complete input here is sent whole.
                "arguments": tool_arguments(tool_input) if isinstance(tool_input, Mapping) and tool_input else "",
            },
        }
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, data: Mapping[str, Any]) -> list[bytes]:
        delta = data.get("delta")
        if not isinstance(delta, Mapping):
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if kind == "input_json_delta":
            index = data.get("index")
            position = self._tool_index.get(index) if isinstance(index, int) else None
            partial = delta.get("partial_json")
            if position is None or not isinstance(partial, str) or not partial:
                return []
            return [self._chunk({"tool_calls": [{"index": position, "function": {"arguments": partial}}]})]
        return []

    def _stop(self) -> list[bytes]:
        self.done = True
        self._ensure_head()
        lines = [self._head + b"{}" + self._tail.replace(b'"finish_reason":null', self._finish_bytes(), 1)]
        if self._include_usage:
            final = {
                "id": self._id or "chatcmpl-tiered",
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model or "",
                "choices": [],
                "usage": chat_usage(self._usage),
            }
            lines.append(sse_data_line(final))
        lines.append(DONE_LINE)
        return lines

    def _finish_bytes(self) -> bytes:
        return b'"finish_reason":' + _dumps(self._finish_reason)

    def _add_usage(self, usage: object) -> None:
        if not isinstance(usage, Mapping):
            return
        for key in _USAGE_KEYS:
            value = usage.get(key)
            # Counts in message_delta are cumulative: the latest one is the total.
            if isinstance(value, int) and not isinstance(value, bool):
                self._usage[key] = value
