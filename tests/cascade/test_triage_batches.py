"""A streamed triage whose events arrive together: each delta is still judged in turn, and the events of the
batch after the decision are neither lost nor judged early."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered.cascade.policy import Call
from tiered.cascade.stream_parse import TriageStreamParser
from tiered.decision import AttemptRole, EscalationReason
from tiered.providers.base import StreamEvent
from tiered.runner.attempts import PendingAttempt
from tiered.runner.triage_read import TriageState, note_triage_usage, read_triage_events, read_triage_to_end

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def delta(text: str) -> tuple[str, bytes]:
    data = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    return "content_block_delta", json.dumps(data, separators=(",", ":")).encode()


def reply(pieces: list[str], *, stop_reason: str = "end_turn", output_tokens: int = 30) -> list[tuple[str, bytes]]:
    start = {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 5}}}
    end = {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": output_tokens}}
    return [
        ("message_start", json.dumps(start).encode()),
        *(delta(piece) for piece in pieces),
        ("message_delta", json.dumps(end).encode()),
        ("message_stop", b'{"type":"message_stop"}'),
    ]


class Arrived:
    """A stream whose events all arrived together: the first by iteration, the rest ready at once."""

    def __init__(self, pairs: list[tuple[str, bytes]]) -> None:
        self._pairs = list(pairs)
        self.iterated = 0

    def __aiter__(self) -> Arrived:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._pairs:
            raise StopAsyncIteration
        self.iterated += 1
        name, data = self._pairs.pop(0)
        return StreamEvent(name, data)

    def ready_pairs(self) -> list[tuple[str, bytes]]:
        taken, self._pairs = self._pairs, []
        return taken

    async def rest_pairs(self) -> list[tuple[str, bytes]]:
        return self.ready_pairs()


def triage_call(threshold: float = 0.8) -> Call:
    return Call(tier=0, model="haiku", role=AttemptRole.TRIAGE, body={}, threshold=threshold)


# a reply in small pieces, as a model streams it (the confidence and the answer's start in separate deltas)
CONFIDENT = ['{"confidence": 0.', "95", ', "answer": "', "Paris", " is the", ' capital."', "}"]
UNSURE = ['{"confidence": 0.', "3", ', "answer": ', "null", "}"]


async def read(pieces: list[str], *, batched: bool, **kwargs: Any) -> tuple[Any, TriageState, Arrived]:
    call = triage_call()
    source = Arrived(reply(pieces, **kwargs))
    state = TriageState(TriageStreamParser())
    got = await read_triage_events(source, call, PendingAttempt(call), state, 0.0, None, source if batched else None)
    return got, state, source


@pytest.mark.parametrize("batched", [False, True])
async def test_a_confident_reply_is_decided_at_the_answers_first_text(batched: bool) -> None:
    got, state, source = await read(CONFIDENT, batched=batched)
    assert got.confidence == 0.95 and got.answer == "Paris" and not state.finished
    assert state.deltas == 4  # judged delta by delta, even when they arrived together
    assert source.iterated == (1 if batched else 5)  # message_start and four deltas, or one batch
    # the events after the decision were taken with the batch: the read to the end starts with them
    call = triage_call()
    pending = PendingAttempt(call)
    whole = await read_triage_to_end(source, call, pending, state, source)
    assert whole.answer == "Paris is the capital." and state.finished and state.deltas == len(CONFIDENT)
    note_triage_usage(pending, state)
    assert pending.usage.output_tokens == 30 and pending.stop_reason == "end_turn"
    assert not pending.usage_estimated and pending.reported_usage == state.usage


@pytest.mark.parametrize("batched", [False, True])
async def test_a_low_confidence_is_decided_when_it_is_known(batched: bool) -> None:
    got, state, _ = await read(UNSURE, batched=batched)
    assert got.confidence == 0.3 and got.answer is None and got.problem is None
    assert state.deltas == 3 and not state.finished  # the call is cut here; what followed is not judged


async def test_a_reply_that_ends_before_the_decision_is_judged_whole() -> None:
    got, state, _ = await read(['{"confidence": 0.9, ', '"answer": "'], batched=True, stop_reason="max_tokens")
    assert state.finished and got.problem is EscalationReason.TRUNCATED


async def test_escaped_and_unusual_deltas_decode_as_json_says() -> None:
    pieces = ['{"confidence": 0.9, "answer": "', 'a \\"quoted\\" \\u00e9', "\\n", 'line"}']
    got, state, source = await read(pieces, batched=True)
    call = triage_call()
    whole = await read_triage_to_end(source, call, PendingAttempt(call), state, source)
    assert whole.answer == 'a "quoted" é\nline'
