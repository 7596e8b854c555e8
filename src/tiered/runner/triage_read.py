"""Reading a streamed triage reply: up to the decision, and (for a shipped answer) to its end.

Shared by the stream router (which relays a shipped answer as it arrives) and the JSON router (which streams
its triage calls too, so that a low confidence cuts the call after a few tokens instead of waiting for a whole
unwanted answer, and reads a shipped answer to its end before answering).
"""

from __future__ import annotations

import operator
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import compress
from typing import TYPE_CHECKING, Any, Final

from ..accounting import tokens_for_chars
from ..cascade.policy import Calibrator, Call, TriageRead, early_read, read_triage_text
from ..cascade.stream_parse import TriageStreamParser
from ..fastjson import loads_many
from ..providers.base import StreamEvent, has_rest_pairs, pairs_taker
from .sse_events import delta_text, joined_text_deltas, merge_usage, text_delta_data, text_of_delta

if TYPE_CHECKING:
    from .attempts import PendingAttempt

__all__ = ["TriageState", "deltas_text", "message_of", "note_triage_usage", "read_triage_events", "read_triage_to_end"]


@dataclass(slots=True)
class TriageState:
    parser: TriageStreamParser
    message: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    answer: str = ""
    stop_reason: str | None = None
    finished: bool = False
    deltas: int = 0
    rest: list[bytes] = field(default_factory=list)  # raw deltas read after the decision, decoded once at the end
    unread: list[tuple[str, bytes]] = field(default_factory=list)  # taken with the decision's batch, after it

    def text(self) -> str:
        return self.parser.text + deltas_text(self.rest)


async def read_triage_events(
    events: AsyncIterator[StreamEvent],
    call: Call,
    pending: PendingAttempt,
    state: TriageState,
    started: float,
    calibrate: Calibrator | None,
    source: object = None,
) -> TriageRead:
    """Read until the decision is known (see :func:`tiered.cascade.policy.early_read`) or the reply ends.

    ``source``, the stream behind ``events``, lets events that arrived together be taken in one pass, each
    still judged in turn. Events of such a batch after the decision are left in ``state.unread``, where
    :func:`read_triage_to_end` starts."""
    threshold = call.threshold if call.threshold is not None else 1.0
    take = pairs_taker(source) if source is not None else None
    async for event in events:
        read = _take_until_decided(_arrived(event, take), call, pending, state, started, threshold, calibrate)
        if read is not None:
            return read
        if state.finished:
            break
    return _whole_read(call, pending, state)


def _take_until_decided(
    batch: list[tuple[str, bytes]],
    call: Call,
    pending: PendingAttempt,
    state: TriageState,
    started: float,
    threshold: float,
    calibrate: Calibrator | None,
) -> TriageRead | None:
    parser = state.parser
    for index, (name, data) in enumerate(batch):
        if name == _DELTA:
            if pending.first_token_ms is None:
                pending.first_token_ms = (time.perf_counter() - started) * 1000
            state.deltas += 1
            parser.feed(text_delta_data(data))
            state.answer += parser.take_answer()
            read = early_read(parser, state.answer, threshold, calibrate)
            if read is not None:
                state.unread = batch[index + 1 :]  # for read_triage_to_end, if the caller reads on
                return read
        elif name == "message_start":
            state.message = StreamEvent(name, data).json().get("message") or {}
            merge_usage(state.usage, state.message.get("usage"))
        elif name == "message_delta":
            _message_delta(state, StreamEvent(name, data))
        elif name == "message_stop":
            state.finished = True
            return None
    return None


async def read_triage_to_end(
    events: AsyncIterator[StreamEvent],
    call: Call,
    pending: PendingAttempt,
    state: TriageState,
    source: object = None,
) -> TriageRead:
    """After a ship decision, read the rest of the reply: the whole answer, judged again as a whole (a reply
    cut at ``max_tokens`` or broken after its start escalates after all). ``source``, the stream behind
    ``events``, lets events that arrived together be handled in one pass, as ``(name, data)`` pairs."""
    finished = _take_to_end(state, state.unread)
    state.unread = []
    # the rest of the body in one read: no wake-up (nor decoding) per event that arrives
    if not finished and has_rest_pairs(source):
        finished = _take_to_end(state, await source.rest_pairs())
    if not finished:  # an error event or an early end is raised by iterating; other sources are read so
        take = pairs_taker(source) if source is not None else None
        async for first in events:
            if _take_to_end(state, _arrived(first, take)):
                break
    return _whole_read(call, pending, state)


def _arrived(event: StreamEvent, take: Callable[[], list[tuple[str, bytes]]] | None) -> list[tuple[str, bytes]]:
    """``event`` and, when its stream is given, the events that arrived with it (up to ``message_stop``)."""
    batch = [(event.event, event.data)]
    if take is not None:
        batch += take()
    return batch


def _take_to_end(state: TriageState, batch: list[tuple[str, bytes]]) -> bool:
    """Take a batch of the reply's rest; ``True`` once ``message_stop`` was in it."""
    names = list(map(_NAME_OF, batch))
    if "message_stop" in names:  # nothing after it counts
        del batch[names.index("message_stop") + 1 :]
        del names[len(batch) :]
    # the deltas, kept raw (the whole reply is decoded once at the end), picked out without Python code per
    # event; then the few other events, in order
    is_delta = list(map(_DELTA.__eq__, names))
    state.rest.extend(map(_DATA_OF, compress(batch, is_delta)))
    state.deltas += is_delta.count(True)
    for name, data in compress(batch, map(operator.not_, is_delta)):
        if name == "message_delta":
            _message_delta(state, StreamEvent(name, data))
        elif name == "message_stop":
            state.finished = True
    return state.finished


_DELTA: Final = "content_block_delta"
_NAME_OF: Final = operator.itemgetter(0)
_DATA_OF: Final = operator.itemgetter(1)


def deltas_text(deltas: list[bytes]) -> str:
    """The text of ``content_block_delta`` events' data, decoded together; an event that is not JSON raises
    :class:`UpstreamProtocolError` as :func:`delta_text` does."""
    text = joined_text_deltas(deltas)
    if text is not None:
        return text
    values = loads_many(deltas)
    if values is None:
        return "".join(delta_text(StreamEvent("content_block_delta", data)) for data in deltas)
    return "".join(map(text_of_delta, values))


def _message_delta(state: TriageState, event: StreamEvent) -> None:
    data = event.json()
    merge_usage(state.usage, data.get("usage"))
    delta = data.get("delta") or {}
    state.stop_reason = delta.get("stop_reason") or state.stop_reason


def _whole_read(call: Call, pending: PendingAttempt, state: TriageState) -> TriageRead:
    pending.stop_reason = state.stop_reason
    if state.stop_reason in ("refusal", "max_tokens"):  # judged by its stop reason: its text is not decoded
        return read_triage_text(state.stop_reason, "")
    read = read_triage_text(state.stop_reason, state.text(), structured_answer=call.structured_answer)
    if read.problem is None:
        state.answer = read.answer or ""
    return read


def note_triage_usage(pending: PendingAttempt, state: TriageState) -> None:
    """Record a streamed triage's usage on its attempt. A stream cut short (tiered escalated before its end,
    the client went away, or it failed) never sent its final usage: its output counts at least the deltas that
    arrived and the tokens of the text they carried (:func:`~tiered.accounting.tokens_for_chars`), and the
    attempt's usage is marked as an estimate."""
    if state.finished:
        pending.note_usage(state.usage)
        return
    seen = max(state.deltas, tokens_for_chars(len(state.text())))
    pending.note_usage(state.usage, complete=False, output_at_least=seen)


def message_of(state: TriageState) -> dict[str, Any]:
    """What the JSON router keeps of a streamed triage: the message's id, model, usage and stop reason."""
    return {
        "id": state.message.get("id"),
        "model": state.message.get("model"),
        "usage": dict(state.usage),
        "stop_reason": state.stop_reason,
    }
