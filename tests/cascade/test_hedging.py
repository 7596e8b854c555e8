"""Hedged escalation (``hedge_after_ms``): a slow triage gets the final tier started in parallel; whichever
decides first wins, the other is cancelled, and both costs are recorded."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.config import Settings
from tiered.decision import EscalationReason, Outcome
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router

pytestmark = pytest.mark.anyio


def hedged(settings: Settings, ms: float = 100) -> Settings:
    route = settings.route("default").model_copy(update={"hedge_after_ms": ms})
    return settings.model_copy(update={"routes": {**settings.routes, "default": route}})


def ask(text: str) -> dict[str, Any]:
    return {"max_tokens": 300, "messages": [{"role": "user", "content": text}]}


async def test_fast_triage_is_not_hedged(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings, 2000))
    try:
        routed = await router.create(ask("[[fake confidence=0.95]] q"))
    finally:
        await router.aclose()
    assert len(upstream.requests) == 1 and len(routed.decision.attempts) == 1


async def test_slow_triage_that_ships_cancels_the_hedge(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed = await router.create(ask("[[fake haiku:confidence=0.95 haiku:ttft=400 opus:ttft=3000]] q"))
    finally:
        await router.aclose()
    upstream.wait_idle()
    decision = routed.decision
    assert decision.answered_by == "claude-haiku-4-5" and not decision.escalated
    triage, final = decision.attempts
    assert triage.outcome is Outcome.SHIPPED
    assert final.outcome is Outcome.CANCELLED and final.usage.input_tokens > 0  # estimated, recorded
    assert triage.cost_usd is not None and final.cost_usd is not None
    assert decision.cost_usd == pytest.approx(triage.cost_usd + final.cost_usd)
    assert upstream.requests[1].disconnected


async def test_slow_triage_that_escalates_uses_the_running_hedge(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed = await router.create(ask("[[fake haiku:confidence=0.1 haiku:ttft=1000 opus:ttft=1000]] q"))
    finally:
        await router.aclose()
    upstream.wait_idle()
    decision = routed.decision
    assert decision.answered_by == "claude-opus-4-7" and decision.reason is EscalationReason.LOW_CONFIDENCE
    triage, final = upstream.requests  # the final call was made once, by the hedge
    assert triage.model == "claude-haiku-4-5" and final.model == "claude-opus-4-7"
    # The triage's low confidence cannot have been sent before its scripted 1 s first token: a cascade that
    # waited for it would have started the final call after that.
    assert final.started_at < triage.started_at + 1.0


async def test_final_tier_answering_first_wins(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed = await router.create(ask("[[fake haiku:confidence=0.95 haiku:ttft=3000 opus:ttft=0]] q"))
    finally:
        await router.aclose()
    upstream.wait_idle()
    decision = routed.decision
    assert decision.answered_by == "claude-opus-4-7" and decision.escalated
    assert decision.reason is EscalationReason.POLICY
    triage, final = decision.attempts
    assert triage.outcome is Outcome.CANCELLED and triage.reason is EscalationReason.POLICY
    assert triage.cost_usd is not None and triage.cost_usd > 0  # lower-bound estimate from input tokens
    assert upstream.requests[0].disconnected


async def collect(router: Router, request: dict[str, Any]) -> tuple[Any, Any, bytes]:
    routed = router.stream(request)
    head = await routed.start()
    raw = b"".join([chunk async for chunk in routed])
    return routed, head, raw


async def test_stream_hedge_final_content_first_wins(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed, head, raw = await collect(router, ask("[[fake haiku:confidence=0.95 haiku:ttft=3000 opus:ttft=50]] q"))
    finally:
        await router.aclose()
    upstream.wait_idle()
    assert head.escalated and head.model == "claude-opus-4-7" and head.reason is EscalationReason.POLICY
    assert b"event: message_stop" in raw and raw.count(b"event: message_start") == 1
    triage, final = routed.decision.attempts
    assert triage.outcome is Outcome.CANCELLED and final.outcome is Outcome.ANSWERED
    assert upstream.requests[0].disconnected


async def test_stream_hedge_triage_ships_and_cancels_the_final(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed, head, raw = await collect(
            router, ask('[[fake haiku:confidence=0.95 haiku:answer="cheap" haiku:ttft=300 opus:ttft=3000]] q')
        )
    finally:
        await router.aclose()
    upstream.wait_idle()
    assert not head.escalated and head.model == "claude-haiku-4-5"
    assert b"cheap" in raw
    triage, final = routed.decision.attempts
    assert triage.outcome is Outcome.SHIPPED and final.outcome is Outcome.CANCELLED
    assert upstream.requests[1].disconnected


async def test_stream_hedge_triage_escalates_into_the_running_final(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(hedged(settings))
    try:
        routed, head, raw = await collect(router, ask("[[fake haiku:confidence=0.1 haiku:ttft=400 opus:ttft=1000]] q"))
    finally:
        await router.aclose()
    assert head.escalated and head.reason is EscalationReason.LOW_CONFIDENCE
    assert len(upstream.requests) == 2 and b"event: message_stop" in raw
    assert [a.outcome for a in routed.decision.attempts] == [Outcome.ESCALATED, Outcome.ANSWERED]
