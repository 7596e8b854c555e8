"""Building the caller's Messages reply from a triage answer: one builder for every response kind.

A shipped or degraded triage answer becomes one text block, under the answering model, with that call's
usage, cut at the caller's first stop sequence as the final tier's answer would be (see
:mod:`tiered.cascade.stop_sequences`). A JSON response is :func:`answer_message`; a stream sends the same
message as events (:func:`tiered.runner.sse_events.message_events`), or, for an answer relayed while it is
written, starts with :func:`message_head`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..cascade.stop_sequences import ending

if TYPE_CHECKING:
    from .attempts import PendingAttempt

__all__ = ["answer_message", "message_head", "message_text", "shipped_message"]


def message_text(body: Mapping[str, Any]) -> str:
    """The text of a Messages response (its text blocks, joined)."""
    content = body.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def message_head(source: Mapping[str, Any], model: str, usage: Mapping[str, Any], fallback_id: str) -> dict[str, Any]:
    """A Messages response with no content yet: ``source`` is the triage's message (for its id)."""
    return {
        "id": source.get("id") or fallback_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": dict(usage),
    }


def shipped_message(
    source: Mapping[str, Any],
    model: str,
    answer: str,
    usage: Mapping[str, Any],
    stop_reason: str = "end_turn",
    stop_sequences: Sequence[str] = (),
    fallback_id: str = "msg_tiered",
) -> dict[str, Any]:
    """The Messages response for a triage ``answer`` (see the module's docstring)."""
    end = ending(answer, stop_sequences, stop_reason)
    message = message_head(source, model, usage, fallback_id)
    message["content"] = [{"type": "text", "text": end.text}]
    message["stop_reason"], message["stop_sequence"] = end.stop_reason, end.stop_sequence
    return message


def answer_message(
    pending: PendingAttempt, answer: str, stop_sequences: Sequence[str] = (), fallback_id: str = "msg_tiered"
) -> dict[str, Any]:
    """The reply carrying the answer of the triage ``pending`` recorded (its message is ``pending.body``)."""
    body = pending.body
    model = body.get("model") or pending.call.body.get("model") or pending.call.model
    usage = body.get("usage") or pending.usage.to_anthropic()
    return shipped_message(body, str(model), answer, usage, stop_sequences=stop_sequences, fallback_id=fallback_id)
