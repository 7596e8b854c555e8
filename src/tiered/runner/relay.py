"""Relaying the final tier's stream: its events in the batches they arrived in, and what the decision takes
from each (usage, stop reason, answer text, time to first token)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Final

from ..providers.base import StreamEvent, ready_taker
from .attempts import PendingAttempt, RelayedUsage
from .sse_events import delta_chars, merge_usage

__all__ = ["DELTA", "batches", "note_relayed"]

DELTA: Final = "content_block_delta"


async def batches(
    first: list[StreamEvent], rest: AsyncIterator[StreamEvent], source: object
) -> AsyncIterator[list[StreamEvent]]:
    """``first``, then ``rest`` in batches: each event with those ``source`` (the stream behind ``rest``) has
    already received."""
    ready = ready_taker(source)
    if first:
        yield [*first, *ready()]
    async for event in rest:
        yield [event, *ready()]


def note_relayed(
    pending: PendingAttempt,
    relayed: RelayedUsage,
    event: StreamEvent,
    answer_parts: list[str],
    elapsed_ms: Callable[[], float],
) -> bool:
    """Take what the decision needs from a relayed event; ``True`` at ``message_stop``."""
    name = event.event
    if name == DELTA:
        if pending.first_token_ms is None:
            pending.first_token_ms = elapsed_ms()
        delta = event.json().get("delta") or {}
        if delta.get("type") == "text_delta":
            answer_parts.append(delta.get("text") or "")
        relayed.chars += delta_chars(delta)
    elif name == "message_start":
        merge_usage(relayed.reported, (event.json().get("message") or {}).get("usage"))
    elif name == "message_delta":
        data = event.json()
        merge_usage(relayed.reported, data.get("usage"))
        relayed.final = True
        pending.stop_reason = (data.get("delta") or {}).get("stop_reason") or pending.stop_reason
    return name == "message_stop"
