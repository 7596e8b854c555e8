"""The economics state: in-process, shared through a real Redis server, and Redis down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tiered.config import RouteSettings, Settings
from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.economics.advisor import Economics
from tiered.economics.cache_state import MemoryStore, RedisStore, Write
from tiered.pricing import PriceBook

ROUTE = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})
STAY_UP = ROUTE.model_copy(update={"stay_up_s": 600.0})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _request(turns: int, tag: str) -> dict[str, Any]:
    """A conversation over a long cached document (about 60k tokens by the local estimate)."""
    messages: list[dict[str, Any]] = []
    for n in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"question {n}"}]})
        if n < turns - 1:
            messages.append({"role": "assistant", "content": f"answer {n}"})
    messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"{tag} " + "a long document " * 11_000}]
    return {"system": system, "messages": messages, "max_tokens": 300}


def _escalated(cached: int) -> Decision:
    """A turn that escalated from Haiku to Opus, where Opus wrote ``cached`` tokens to its cache."""
    usage = TokenUsage(input_tokens=20, output_tokens=100, cache_creation_input_tokens=cached)
    attempts = (
        Attempt(0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.ESCALATED, 0.2, EscalationReason.LOW_CONFIDENCE),
        Attempt(1, "claude-opus-4-7", AttemptRole.FINAL, Outcome.ANSWERED, usage=usage, cost_usd=0.5),
    )
    return Decision(
        id="dec_test",
        route="default",
        created_at=datetime.now(tz=UTC),
        attempts=attempts,
        answered_by="claude-opus-4-7",
        answer_tier=1,
        escalated=True,
        reason=EscalationReason.LOW_CONFIDENCE,
        confidence=None,
        threshold=None,
        cost_usd=0.5,
        counterfactual_cost_usd=0.5,
        latency_ms=1.0,
    )


def test_memory_store_expires_and_stays_bounded() -> None:
    clock = Clock()
    store = MemoryStore(max_entries=3, clock=clock)
    store.set_many([Write("a", "1", 10.0), Write("b", "2", 100.0)])
    clock.now += 11
    assert store.get_many(["a", "b"]) == [None, "2"]
    store.set_many([Write(k, k, 100.0) for k in "cdef"])
    assert len(store) == 3 and store.get_many(["b", "f"]) == [None, "f"]


@pytest.mark.anyio
async def test_an_escalated_conversation_with_a_warm_final_prefix_skips_its_next_triage() -> None:
    clock = Clock()
    economics = Economics(Settings(), PriceBook(), store=MemoryStore(clock=clock), clock=clock)
    tag = uuid.uuid4().hex
    first = await economics.plan(_request(1, tag), "default", ROUTE)
    assert first.skip is None  # nothing cached anywhere yet: a long prompt is still triaged
    first.settle(_escalated(cached=60_000))
    second = await economics.plan(_request(2, tag), "default", ROUTE)
    assert second.skip is not None and second.skip.tier == 1
    assert second.skip.reason is EscalationReason.NOT_WORTH_TRIAGE
    assert "answered directly by claude-opus-4-7" in second.skip.detail
    assert second.final_warm > 50_000  # the all-Opus path would have the first turn's prefix cached
    clock.now += 301  # the 5-minute entry expired: cold everywhere, triage again
    third = await economics.plan(_request(2, tag), "default", ROUTE)
    assert third.skip is None and third.final_warm == 0


@pytest.mark.anyio
async def test_an_escalated_conversation_stays_up_until_its_ttl() -> None:
    clock = Clock()
    economics = Economics(Settings(), PriceBook(), store=MemoryStore(clock=clock), clock=clock)
    tag = uuid.uuid4().hex
    first_turn: list[dict[str, Any]] = [{"role": "user", "content": f"{tag} short question"}]
    short = {"messages": first_turn, "max_tokens": 100}
    (await economics.plan(short, "default", STAY_UP)).settle(_escalated(cached=0))
    follow = {
        **short,
        "messages": [*first_turn, {"role": "assistant", "content": "a"}, {"role": "user", "content": "more"}],
    }
    clock.now += 599
    stay = await economics.plan(follow, "default", STAY_UP)
    assert stay.skip is not None and stay.skip.reason is EscalationReason.POLICY and "stay_up" in stay.skip.detail
    clock.now += 2
    assert (await economics.plan(follow, "default", STAY_UP)).skip is None


@pytest.mark.anyio
async def test_two_replicas_sharing_redis_make_the_same_decision(redis_url: str) -> None:
    clock = Clock()
    a = Economics(Settings(), PriceBook(), store=RedisStore(redis_url, clock=clock), clock=clock)
    b = Economics(Settings(), PriceBook(), store=RedisStore(redis_url, clock=clock), clock=clock)
    try:
        tag = uuid.uuid4().hex
        (await a.plan(_request(1, tag), "default", ROUTE)).settle(_escalated(cached=60_000))
        await a.drain()
        on_a = await a.plan(_request(2, tag), "default", ROUTE)
        on_b = await b.plan(_request(2, tag), "default", ROUTE)
        assert on_a.skip is not None and on_b.skip is not None
        assert (on_a.skip.tier, on_a.final_warm) == (on_b.skip.tier, on_b.final_warm)
        assert a.healthy and b.healthy and a.shared
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.anyio
async def test_with_redis_down_a_replica_falls_back_to_its_own_state_and_says_so() -> None:
    clock = Clock()
    store = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.2, clock=clock)  # nothing listens on port 1
    economics = Economics(Settings(), PriceBook(), store=store, clock=clock)
    try:
        tag = uuid.uuid4().hex
        first = await economics.plan(_request(1, tag), "default", ROUTE)
        assert first.skip is None and not economics.healthy and store.failures == 1
        first.settle(_escalated(cached=60_000))
        await economics.drain()
        second = await economics.plan(_request(2, tag), "default", ROUTE)  # decided from its own state
        assert second.skip is not None and second.skip.tier == 1
    finally:
        await economics.aclose()


@pytest.mark.anyio
async def test_one_request_in_twenty_not_worth_a_triage_is_triaged_anyway() -> None:
    """Ship rates learn only from triages: the rule keeps exploring, or a tier that stopped shipping for a while
    would never be tried again."""
    clock = Clock()
    economics = Economics(Settings(), PriceBook(), store=MemoryStore(clock=clock), clock=clock)
    tag = uuid.uuid4().hex
    (await economics.plan(_request(1, tag), "default", ROUTE)).settle(_escalated(cached=60_000))
    skips = [(await economics.plan(_request(2, tag), "default", ROUTE)).skip is not None for _ in range(40)]
    assert skips.count(False) == 2 and not skips[19] and not skips[39]
    assert economics.not_worth == 40 and economics.skipped == 38
