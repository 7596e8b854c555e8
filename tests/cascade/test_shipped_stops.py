"""Stop sequences on every path a cheap answer takes to the caller: shipped or degraded, JSON or stream; the
decision records what the caller got."""

from __future__ import annotations

from typing import Any

import pytest
from tests._sse import sse_events as parse_sse

from tiered.cascade.policy import Call
from tiered.config import Settings
from tiered.decision import AttemptRole
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router
from tiered.runner.attempts import PendingAttempt
from tiered.runner.reply import answer_message
from tiered.runner.sse_events import message_events

pytestmark = pytest.mark.anyio

LONG = "Paris is the capital. END " + "and then the model kept on writing for a while " * 6


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 400, "messages": [{"role": "user", "content": text}], "stop_sequences": ["END"], **extra}


def degrading(settings: Settings) -> Settings:
    route = settings.route("default").model_copy(update={"degrade_to_cheap": True})
    provider = settings.provider("anthropic").model_copy(update={"max_retries": 0})
    return settings.model_copy(
        update={
            "routes": {**settings.routes, "default": route},
            "providers": {**settings.providers, "anthropic": provider},
        }
    )


async def test_json_shipped_answer_and_its_decision(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        routed = await router.create(ask(f'[[fake confidence=0.95 answer="{LONG}"]] q'))
    finally:
        await router.aclose()
    assert routed.text == "Paris is the capital. "
    assert (routed.body["stop_reason"], routed.body["stop_sequence"]) == ("stop_sequence", "END")
    assert not routed.decision.escalated


async def test_stream_stops_reading_the_triage_at_the_stop_sequence(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        routed = router.stream(ask(f'[[fake confidence=0.95 answer="{LONG}" tps=200]] q'))
        head = await routed.start()
        body = b"".join([chunk async for chunk in routed])
    finally:
        await router.aclose()
    assert not head.escalated
    events = parse_sse(body)
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text == "Paris is the capital. "
    (delta,) = [data for name, data in events if name == "message_delta"]
    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert delta["usage"]["output_tokens"] > 0 and events[-1][0] == "message_stop"
    decision = routed.decision
    assert decision is not None and decision.answer_chars == len(text)
    (triage,) = decision.attempts
    assert triage.stream_aborted  # closed at the stop sequence, not read to its end


async def test_degraded_answer_is_cut_too(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(degrading(settings))
    try:
        routed = await router.create(
            ask('[[fake haiku:confidence=0.6 haiku:answer="Probably 4. END or 5" opus:fault=overloaded]] q')
        )
    finally:
        await router.aclose()
    assert routed.decision.degraded and routed.text == "Probably 4. "
    assert (routed.body["stop_reason"], routed.body["stop_sequence"]) == ("stop_sequence", "END")


def test_a_degraded_stream_is_cut_too() -> None:
    """A streamed request degrades to an answer read whole, sent at once: cut the same way."""
    call = Call(tier=0, model="haiku", role=AttemptRole.TRIAGE, body={"model": "claude-haiku-4-5"})
    pending = PendingAttempt(call, body={"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 9}})
    events = [
        (e.event, e.json()) for e in message_events(answer_message(pending, "Probably 4. END or 5", ["END", "5"]))
    ]
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[2][1]["delta"]["text"] == "Probably 4. "
    assert events[4][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert events[4][1]["usage"] == {"output_tokens": 9}
    whole = [(e.event, e.json()) for e in message_events(answer_message(pending, "Probably 4."))]
    assert whole[2][1]["delta"]["text"] == "Probably 4."
    assert whole[4][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


async def test_a_stop_sequence_in_the_first_text_ends_the_stream_at_once(
    settings: Settings, upstream: FakeUpstream
) -> None:
    router = Router(settings)
    try:
        routed = router.stream(ask(f'[[fake confidence=0.95 answer="END {LONG}" tps=50]] q'))
        await routed.start()
        events = parse_sse(b"".join([chunk async for chunk in routed]))
    finally:
        await router.aclose()
    assert [name for name, _ in events if name == "content_block_delta"] == []
    (delta,) = [data["delta"] for name, data in events if name == "message_delta"]
    assert delta == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert routed.decision is not None and routed.decision.attempts[0].stream_aborted
