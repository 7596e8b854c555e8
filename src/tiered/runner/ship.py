"""A shipped triage answer, relayed while the cheap model is still writing it.

The triage's JSON is decoded on the fly (:class:`~tiered.cascade.stream_parse.TriageStreamParser`): only the
answer's text reaches the client, as text deltas, cut at the caller's first stop sequence (the final tier would
have stopped there too, see :mod:`tiered.cascade.stop_sequences`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from ..cascade.stop_sequences import StopCutter
from ..providers.base import ready_taker
from .sse_events import merge_usage, message_end, text_delta
from .triage_read import deltas_text

if TYPE_CHECKING:
    from ..providers.base import StreamEvent
    from .attempts import PendingAttempt
    from .triage_read import TriageState

__all__ = ["ShippedAnswer"]


class ShippedAnswer:
    """The rest of a shipped triage (``events``, from ``source``) as the client's events; what was shown is
    appended to ``parts``."""

    def __init__(
        self,
        state: TriageState,
        pending: PendingAttempt,
        events: AsyncIterator[StreamEvent],
        source: object,
        stop_sequences: Sequence[str],
        parts: list[str],
    ) -> None:
        self.state, self.pending, self.events = state, pending, events
        self.ready = ready_taker(source)
        self.cutter = StopCutter(stop_sequences)
        self.parts = parts

    def shown(self, text: str) -> str:
        """What of the answer's decoded ``text`` can be sent now (nothing past a stop sequence)."""
        shown = self.cutter.feed(text)
        if shown:
            self.parts.append(shown)
        return shown

    async def rest(self) -> AsyncIterator[StreamEvent]:
        """Its answer's text deltas and pings, up to its ``message_stop`` or the caller's stop sequence."""
        state, cutter = self.state, self.cutter
        async for arrived in self.events:
            # events that arrived together are handled together: their deltas become one
            deltas: list[bytes] = []
            for event in (arrived, *self.ready()):
                name = event.event
                if name == "content_block_delta":
                    deltas.append(event.data)
                    continue
                if deltas:
                    text = self._feed(deltas)
                    deltas = []
                    if text:
                        yield text_delta(text)
                if name == "message_delta":
                    data = event.json()
                    merge_usage(state.usage, data.get("usage"))
                    state.stop_reason = (data.get("delta") or {}).get("stop_reason") or state.stop_reason
                elif name == "ping":
                    yield event
                elif name == "message_stop":
                    state.finished = True
                    break
            if deltas:
                text = self._feed(deltas)
                if text:
                    yield text_delta(text)
            if state.finished or cutter.matched is not None:
                break

    def end(self) -> list[StreamEvent]:
        """The rest of the answer and the events that end it. At a stop sequence the triage is not read further:
        its usage so far is what the client is told."""
        state, cutter = self.state, self.cutter
        if cutter.matched is not None:
            stop_reason, tail = "stop_sequence", ""
            if not state.finished:
                self.pending.stream_aborted = True
        else:
            stop_reason = "max_tokens" if state.stop_reason == "max_tokens" else "end_turn"
            tail = cutter.flush()
            if tail:
                self.parts.append(tail)
        reported = int(state.usage.get("output_tokens") or 0)
        output_tokens = reported if state.finished and reported else max(reported, state.deltas)
        return [*([text_delta(tail)] if tail else []), *message_end(stop_reason, cutter.matched, output_tokens)]

    def _feed(self, deltas: list[bytes]) -> str:
        """Feed raw deltas to the parser; the answer text they complete that can be sent."""
        state = self.state
        state.deltas += len(deltas)
        state.parser.feed(deltas_text(deltas))
        return self.shown(state.parser.take_answer())
