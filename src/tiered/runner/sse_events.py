"""Building and reading Messages stream events: what a routed stream synthesizes and what it picks out."""

from __future__ import annotations

import re
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Final

from ..fastjson import dumps, loads
from ..providers.base import StreamEvent

if TYPE_CHECKING:
    from ..errors import TieredError

__all__ = [
    "block_start",
    "delta_chars",
    "delta_text",
    "error_event",
    "joined_text_deltas",
    "merge_usage",
    "message_end",
    "message_events",
    "sse",
    "text_delta",
    "text_delta_data",
    "text_of_delta",
]


def sse(event: str, data: dict[str, Any]) -> StreamEvent:
    """A synthesized Messages stream event (its wire form is :meth:`StreamEvent.encode`)."""
    raw = dumps(data)
    return StreamEvent(event, raw, data)


def merge_usage(into: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, dict):
        for key, value in usage.items():
            if value is not None:
                into[key] = value


# the content a delta adds, by its type: text, a tool's input JSON, thinking
_DELTA_CONTENT: Final = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}


def delta_chars(delta: dict[str, Any]) -> int:
    """Characters of content a ``content_block_delta``'s ``delta`` adds (text, tool input or thinking), for an
    estimate of the output tokens of a stream that ended before its final usage."""
    field = _DELTA_CONTENT.get(str(delta.get("type")))
    value = delta.get(field) if field is not None else None
    return len(value) if isinstance(value, str) else 0


def delta_text(event: StreamEvent) -> str:
    """The text a ``content_block_delta`` adds (``partial_json`` for a tool's input)."""
    return text_of_delta(event.json())


def text_of_delta(data: Any) -> str:
    """:func:`delta_text` of an event's data already decoded."""
    delta = data.get("delta") if isinstance(data, dict) else None
    if not isinstance(delta, dict):
        return ""
    text = delta.get("text") if delta.get("type") == "text_delta" else delta.get("partial_json")
    return text if isinstance(text, str) else ""


# A text delta as the Messages API writes it (compact, fields in this order), one per line of the joined data
# (SSE data holds no newline), its text a valid JSON string still escaped: no raw control character, only
# JSON's escapes. A line that matches is valid JSON; decoding the joined texts checks their UTF-8.
_TEXT_DELTA_LINE: Final = re.compile(
    rb'^\{"type":"content_block_delta","index":\d+,"delta":\{"type":"text_delta","text":"'
    rb'([^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*)"\}\}$',
    re.MULTILINE,
)


def joined_text_deltas(datas: list[bytes]) -> str | None:
    """The text of ``content_block_delta`` events' data, decoded in one call when every one is a valid text
    delta of the usual shape (their escaped texts are joined as one JSON string); ``None`` when one is not,
    and the caller reads them one by one (which also reports a broken one)."""
    if not datas:
        return ""
    texts = _TEXT_DELTA_LINE.findall(b"\n".join(datas))
    if len(texts) != len(datas):
        return None
    try:
        text = loads(b'"' + b"".join(texts) + b'"')
    except ValueError:  # not UTF-8
        return None
    return text if isinstance(text, str) else None


def text_delta_data(data: bytes) -> str:
    """:func:`delta_text` of a ``content_block_delta`` event's data: a text delta of the usual shape without
    escapes (most of them) is decoded without a JSON parse."""
    match = _TEXT_DELTA_LINE.fullmatch(data)
    if match is not None:
        text = match.group(1)
        try:
            # find, not `in` (which builds and drops a TypeError first on bytes)
            return text.decode() if text.find(b"\\") < 0 else str(loads(b'"' + text + b'"'))
        except ValueError:  # not UTF-8: reported as delta_text reports it
            pass
    return delta_text(StreamEvent("content_block_delta", data))


def message_end(stop_reason: str, stop_sequence: str | None, output_tokens: int) -> list[StreamEvent]:
    """The events that end a synthesized stream's one text block and its message: ``message_delta`` carries
    the stop reason and the matched stop sequence, if any."""
    return [
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]


def message_events(message: dict[str, Any]) -> list[StreamEvent]:
    """A whole Messages response with one text block (see :mod:`tiered.runner.reply`) as the stream that
    carries it at once: a degraded answer, already read whole."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    text = message["content"][0]["text"] if message["content"] else ""
    return [
        sse("message_start", {"type": "message_start", "message": start}),
        block_start(),
        *([text_delta(text)] if text else []),
        *message_end(message["stop_reason"], message["stop_sequence"], int(usage.get("output_tokens") or 0)),
    ]


def block_start() -> StreamEvent:
    return sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )


_TEXT_DELTA_HEAD: Final = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'


def text_delta(text: str) -> StreamEvent:
    """A text delta for block 0, encoded from a byte template (one per shipped chunk: the hot path of a
    shipped stream)."""
    try:
        quoted = encode_basestring(text).encode()
    except UnicodeEncodeError:  # a lone surrogate: only the ASCII form (a \u escape) can carry it
        quoted = encode_basestring_ascii(text).encode()
    parsed = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    return StreamEvent("content_block_delta", _TEXT_DELTA_HEAD + quoted + b"}}", parsed)


def error_event(exc: TieredError, request_id: str | None = None) -> StreamEvent:
    """The ``error`` event that ends a stream that failed after it started: the upstream's own error when it
    sent one, with its request id, so a client can quote it."""
    from ..errors import UpstreamError

    error: dict[str, Any] = {"type": exc.error_type, "message": exc.message}
    if isinstance(exc, UpstreamError):
        request_id = exc.request_id or request_id
        if exc.body is not None and isinstance(exc.body.get("error"), dict):
            error = dict(exc.body["error"])
    data: dict[str, Any] = {"type": "error", "error": error}
    if request_id:
        data["request_id"] = request_id
    return sse("error", data)
