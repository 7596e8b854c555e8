"""OpenAI ``chat.completion.chunk`` objects -> Messages stream events (the OpenAI-compatible adapter).

The events follow the Messages stream grammar: ``message_start``, then for each text run or tool call a
``content_block_start`` / ``content_block_delta``... / ``content_block_stop``, then one ``message_delta``
with the stop reason and usage, then ``message_stop``. Because an OpenAI stream sends its usage in a chunk
after the one with ``finish_reason``, the closing events wait for :meth:`ChatToMessagesStream.finish`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiered.errors import UpstreamProtocolError
from tiered.openai_compat._common import messages_usage, stop_reason_for

__all__ = ["ChatToMessagesStream"]

Event = dict[str, Any]


class ChatToMessagesStream:
    """Feed parsed chunks in order; each call returns the Messages events (dicts with ``type``) to send.

    Call :meth:`finish` at ``data: [DONE]`` or at the end of the body: it closes the message, or raises
    :class:`UpstreamProtocolError` if the upstream stopped before a ``finish_reason``. ``model`` names the
    model when the chunks do not.
    """

    def __init__(self, *, model: str = "") -> None:
        self._model = model
        self._started = False
        self._open: tuple[str, int] | None = None  # ("text", -1) or ("tool", OpenAI tool index)
        self._next_index = 0
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool index -> Messages block index
        self._finish_reason: str | None = None
        self._saw_content = False
        self._saw_refusal = False
        self._usage: dict[str, int] = messages_usage(None)
        self.done = False

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        if self.done:
            return []
        events: list[Event] = []
        if not self._started:
            self._started = True
            model = chunk.get("model")
            message: dict[str, Any] = {
                "id": str(chunk.get("id") or "msg_openai"),
                "type": "message",
                "role": "assistant",
                "model": model if isinstance(model, str) and model else self._model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            events.append({"type": "message_start", "message": message})
        if isinstance(chunk.get("usage"), Mapping):
            self._usage = messages_usage(chunk["usage"])
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, Mapping):
            return events
        delta = choice.get("delta")
        if isinstance(delta, Mapping):
            for key in ("content", "refusal"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    if key == "content":
                        self._saw_content = True
                    else:
                        self._saw_refusal = True
                    events.extend(self._text(text))
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else []:
                if isinstance(call, Mapping):
                    events.extend(self._tool_call(call))
        finish_reason = choice.get("finish_reason")
        if finish_reason is not None:
            self._finish_reason = stop_reason_for(finish_reason)
            if self._saw_refusal and not self._saw_content:
                self._finish_reason = "refusal"
            events.extend(self._close_block())
        return events

    def finish(self) -> list[Event]:
        if self.done:
            return []
        if not self._started or self._finish_reason is None:
            raise UpstreamProtocolError(
                "the OpenAI-compatible stream ended before a finish_reason; the answer is incomplete, retry the request"
            )
        self.done = True
        events = self._close_block()
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._finish_reason, "stop_sequence": None},
                "usage": self._usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _close_block(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._next_index - 1}]

    def _open_block(self, kind: tuple[str, int], block: dict[str, Any]) -> list[Event]:
        events = self._close_block()
        events.append({"type": "content_block_start", "index": self._next_index, "content_block": block})
        self._open = kind
        self._next_index += 1
        return events

    def _text(self, text: str) -> list[Event]:
        events = [] if self._open == ("text", -1) else self._open_block(("text", -1), {"type": "text", "text": ""})
        events.append(
            {
                "type": "content_block_delta",
                "index": self._next_index - 1,
                "delta": {"type": "text_delta", "text": text},
            }
        )
        return events

    def _tool_call(self, call: Mapping[str, Any]) -> list[Event]:
        tool_index = call.get("index", 0)
        if not isinstance(tool_index, int):
            raise UpstreamProtocolError("an OpenAI-compatible stream sent a tool call without an integer index")
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        events: list[Event] = []
        if tool_index not in self._tool_blocks:
            call_id = call.get("id")
            name = function.get("name")
            block = {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{tool_index}",
                "name": name if isinstance(name, str) else "",
                "input": {},
            }
            events = self._open_block(("tool", tool_index), block)
            self._tool_blocks[tool_index] = self._next_index - 1
        elif self._open != ("tool", tool_index):
            # A Messages block cannot be reopened once another one has started.
            raise UpstreamProtocolError(
                "an OpenAI-compatible stream interleaved the arguments of two tool calls; it cannot be "
                "translated to a Messages stream"
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": self._tool_blocks[tool_index],
                    "delta": {"type": "input_json_delta", "partial_json": arguments},
                }
            )
        return events
