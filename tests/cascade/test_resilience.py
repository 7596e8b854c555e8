"""The router under upstream faults: a sick triage tier is skipped by its circuit breaker, a failed final tier
can degrade to the best cheap answer, and calls past a provider's in-flight cap are refused at once."""

from __future__ import annotations

from typing import Any

import pytest

from tiered.config import Settings
from tiered.decision import EscalationReason, Outcome
from tiered.errors import OverloadedError, UpstreamStatusError
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router

pytestmark = pytest.mark.anyio


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 300, "messages": [{"role": "user", "content": text}], **extra}


def with_(settings: Settings, **changes: Any) -> Settings:
    route = settings.route("default").model_copy(update=changes.pop("route", {}))
    provider = settings.provider("anthropic").model_copy(update=changes.pop("provider", {}))
    return settings.model_copy(
        update={
            "routes": {**settings.routes, "default": route},
            "providers": {**settings.providers, "anthropic": provider},
            **changes,
        }
    )


async def test_open_circuit_skips_the_sick_triage_tier(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        for _ in range(settings.breaker.failures):
            routed = await router.create(ask("[[fake haiku:fault=overloaded]] q"))
            assert routed.decision.reason is EscalationReason.UPSTREAM_ERROR
        upstream.reset()
        routed = await router.create(ask("[[fake confidence=0.95]] q"))
    finally:
        await router.aclose()
    assert [r.model for r in upstream.requests] == ["claude-opus-4-7"]  # no triage call at all
    triage, final = routed.decision.attempts
    assert triage.outcome is Outcome.SKIPPED and triage.reason is EscalationReason.UPSTREAM_ERROR
    assert (
        routed.decision.reason is EscalationReason.UPSTREAM_ERROR and routed.decision.answered_by == "claude-opus-4-7"
    )
    assert router.breaker.state("claude-haiku-4-5") == "open"


async def test_streams_share_the_breaker(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        for _ in range(settings.breaker.failures):
            routed = router.stream(ask("[[fake haiku:fault=overloaded]] q"))
            await routed.start()
            _ = [c async for c in routed]
        upstream.reset()
        routed = router.stream(ask("[[fake confidence=0.95]] q"))
        head = await routed.start()
        _ = [c async for c in routed]
    finally:
        await router.aclose()
    assert head.escalated and head.reason is EscalationReason.UPSTREAM_ERROR
    assert [r.model for r in upstream.requests] == ["claude-opus-4-7"]


async def test_degrade_to_cheap_ships_the_best_cheap_answer(settings: Settings, upstream: FakeUpstream) -> None:
    degrading = with_(settings, route={"degrade_to_cheap": True}, provider={"max_retries": 0})
    router = Router(degrading)
    try:
        routed = await router.create(
            ask('[[fake haiku:confidence=0.6 haiku:answer="Probably 4." opus:fault=overloaded]] q')
        )
    finally:
        await router.aclose()
    assert routed.text == "Probably 4."
    decision = routed.decision
    assert decision.degraded and decision.answered_by == "claude-haiku-4-5" and decision.error is None
    assert [a.outcome for a in decision.attempts] == [Outcome.ESCALATED, Outcome.ERROR]


async def test_without_degrade_the_final_error_stands(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(with_(settings, provider={"max_retries": 0}))
    try:
        with pytest.raises(UpstreamStatusError):
            await router.create(ask('[[fake haiku:confidence=0.6 haiku:answer="Probably 4." opus:fault=overloaded]] q'))
        # nothing to degrade to: a null answer
        degrading = Router(with_(settings, route={"degrade_to_cheap": True}, provider={"max_retries": 0}))
        with pytest.raises(UpstreamStatusError):
            await degrading.create(ask("[[fake haiku:confidence=0.2 haiku:answer=null opus:fault=overloaded]] q"))
        await degrading.aclose()
    finally:
        await router.aclose()


async def test_inflight_cap_refuses_instead_of_queueing(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(with_(settings, provider={"max_inflight": 1}))
    router.caps.acquire("anthropic")  # one call already open
    try:
        with pytest.raises(OverloadedError) as err:
            await router.create(ask("[[fake confidence=0.9]] q"))
    finally:
        router.caps.release("anthropic")
        await router.aclose()
    assert err.value.status == 529 and err.value.retry_after == 1.0
    assert upstream.requests == []
