"""The cascade over real loopback HTTP against the fake upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered.accounting import INSTRUCTION_TOKENS, WRAPPER_TOKENS
from tiered.config import Settings
from tiered.decision import AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.errors import UpstreamStatusError
from tiered.fake_upstream import FakeUpstream
from tiered.pricing import default_price_book
from tiered.router import Exchange, Router

pytestmark = pytest.mark.anyio


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "tiered", "max_tokens": 400, "messages": [{"role": "user", "content": text}], **extra}


class Collect:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def __call__(self, decision: Decision, exchange: Exchange) -> None:
        self.decisions.append(decision)


async def test_confident_triage_ships_in_one_call(settings: Settings, upstream: FakeUpstream) -> None:
    seen = Collect()
    router = Router(settings, observers=[seen])
    try:
        routed = await router.create(ask('[[fake confidence=0.93 answer="Paris is the capital."]] Capital of France?'))
    finally:
        await router.aclose()
    assert routed.text == "Paris is the capital."
    assert routed.body["model"].startswith("claude-haiku-4-5")
    assert routed.body["stop_reason"] == "end_turn"
    assert [c["type"] for c in routed.body["content"]] == ["text"]
    calls = upstream.requests
    assert len(calls) == 1 and calls[0].is_triage
    decision = routed.decision
    assert seen.decisions == [decision]
    assert not decision.escalated and decision.answered_by == "claude-haiku-4-5"
    assert decision.confidence == pytest.approx(0.93) and decision.threshold == 0.8
    (attempt,) = decision.attempts
    assert attempt.outcome is Outcome.SHIPPED and attempt.role is AttemptRole.TRIAGE
    assert attempt.cost_usd == pytest.approx(default_price_book().cost("claude-haiku-4-5", attempt.usage))
    assert decision.cost_usd == attempt.cost_usd
    # priced at Opus rates for the triage's tokens less the triage instruction and JSON wrapper
    usage = attempt.usage
    bare = TokenUsage(max(usage.input_tokens - INSTRUCTION_TOKENS, 0), max(usage.output_tokens - WRAPPER_TOKENS, 1))
    assert decision.counterfactual_cost_usd == pytest.approx(default_price_book().cost("claude-opus-4-7", bare))


async def test_low_confidence_replays_the_original_request(settings: Settings, upstream: FakeUpstream) -> None:
    original = ask(
        "[[fake haiku:confidence=0.2]] Prove the Riemann hypothesis.",
        system=[{"type": "text", "text": "You are careful."}],
        metadata={"user_id": "u-1"},
        stop_sequences=["###"],
        top_k=5,
    )
    router = Router(settings)
    try:
        routed = await router.create(original)
    finally:
        await router.aclose()
    calls = upstream.requests
    assert len(calls) == 2
    triage, final = calls
    assert triage.is_triage and not final.is_triage
    # the final call is the caller's body with only `model` changed (top_k dropped: documented rewrite)
    expected = {k: v for k, v in original.items() if k not in ("model", "top_k")}
    assert {k: v for k, v in final.body.items() if k != "model"} == expected
    assert final.body["model"] == "claude-opus-4-7"
    decision = routed.decision
    assert decision.escalated and decision.reason is EscalationReason.LOW_CONFIDENCE
    assert decision.answered_by == "claude-opus-4-7" and decision.answer_tier == 1
    assert decision.attempts[1].rewrites == ("drop:top_k",)
    assert decision.counterfactual_cost_usd == pytest.approx(decision.attempts[1].cost_usd)
    assert decision.cost_usd == pytest.approx(sum(a.cost_usd or 0 for a in decision.attempts))
    assert routed.body["model"].startswith("claude-opus-4-7")


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("fault=not_json", EscalationReason.INVALID_OUTPUT),
        ("fault=missing_confidence", EscalationReason.INVALID_OUTPUT),
        ("fault=missing_answer", EscalationReason.INVALID_OUTPUT),
        ("fault=confidence_out_of_range", EscalationReason.INVALID_OUTPUT),
        ("fault=confidence_not_number", EscalationReason.INVALID_OUTPUT),
        # the triage is read as a stream: a refusal that starts in prose is cut at its first character
        ("fault=refusal", EscalationReason.INVALID_OUTPUT),
        ("fault=truncated", EscalationReason.TRUNCATED),
        ("fault=overloaded", EscalationReason.UPSTREAM_ERROR),
        ("fault=rate_limit", EscalationReason.UPSTREAM_ERROR),
        ("fault=api_error", EscalationReason.UPSTREAM_ERROR),
        ("fault=malformed", EscalationReason.UPSTREAM_ERROR),
        ("confidence=0.95 answer=null", EscalationReason.NO_ANSWER),
    ],
)
async def test_broken_triage_escalates_with_reason(
    settings: Settings, upstream: FakeUpstream, directive: str, reason: EscalationReason
) -> None:
    scoped = " ".join(f"haiku:{item}" for item in directive.split())
    router = Router(settings)
    try:
        routed = await router.create(ask(f"[[fake {scoped}]] What is 2+2?"))
    finally:
        await router.aclose()
    assert routed.decision.reason is reason
    assert routed.decision.answered_by == "claude-opus-4-7"
    assert len(upstream.requests) == 2  # no retry of a failing triage: it escalates at once
    assert routed.text  # the caller never sees the broken triage output
    assert "confidence" not in routed.text


async def test_three_tier_walks_one_hop_at_a_time(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        shipped = await router.create(
            ask("[[fake haiku:confidence=0.3 sonnet:confidence=0.9 sonnet:answer=mid]] x"), route="three-tier"
        )
        deep = await router.create(ask("[[fake haiku:confidence=0.3 sonnet:confidence=0.4]] x"), route="three-tier")
    finally:
        await router.aclose()
    assert shipped.text == "mid" and shipped.decision.answered_by == "claude-sonnet-4-6"
    assert deep.decision.answered_by == "claude-opus-4-7"
    models = [r.model for r in upstream.requests]
    assert models == [
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-7",
    ]


async def test_final_tier_error_reaches_the_caller(settings: Settings, upstream: FakeUpstream) -> None:
    anthropic = settings.provider("anthropic").model_copy(update={"max_retries": 1})
    router = Router(settings.model_copy(update={"providers": {**settings.providers, "anthropic": anthropic}}))
    seen = Collect()
    router.add_observer(seen)
    try:
        with pytest.raises(UpstreamStatusError) as err:
            await router.create(ask("[[fake haiku:confidence=0.1 opus:fault=overloaded opus:retry_after=0]] x"))
    finally:
        await router.aclose()
    assert err.value.status == 529 and err.value.error_type == "overloaded_error"
    assert [r.model for r in upstream.requests] == ["claude-haiku-4-5", "claude-opus-4-7", "claude-opus-4-7"]
    assert err.value.decision_id == seen.decisions[0].id
    assert seen.decisions[0].error is not None and seen.decisions[0].answered_by is None


async def test_caller_structured_output_is_kept(settings: Settings, upstream: FakeUpstream) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    router = Router(settings)
    try:
        routed = await router.create(
            ask(
                "[[fake confidence=0.97]] Largest city?",
                output_config={"format": {"type": "json_schema", "schema": schema}},
            )
        )
    finally:
        await router.aclose()
    value = json.loads(routed.text)
    assert set(value) == {"city", "population"} and isinstance(value["population"], int)
    triage_schema = upstream.requests[0].body["output_config"]["format"]["schema"]
    assert triage_schema["properties"]["answer"]["anyOf"][0] == schema


async def test_tool_mode_triage(settings: Settings, upstream: FakeUpstream) -> None:
    tool_settings = settings.model_copy(
        update={
            "routes": {
                "default": settings.route("default").model_copy(
                    update={
                        "tiers": (
                            settings.route("default").tiers[0].model_copy(update={"triage": "tool"}),
                            settings.route("default").tiers[1],
                        )
                    }
                )
            }
        }
    )
    router = Router(tool_settings)
    try:
        routed = await router.create(ask('[[fake confidence=0.9 answer="via tool"]] hi'))
    finally:
        await router.aclose()
    assert routed.text == "via tool"
    assert upstream.requests[0].triage_mode == "tool"


async def test_decisions_fingerprint_requests_without_their_text(settings: Settings, upstream: FakeUpstream) -> None:
    router = Router(settings)
    try:
        a = await router.create(ask("[[fake confidence=0.9]] same question"))
        b = await router.create(ask("[[fake confidence=0.9]] same question", temperature=0.5))
        c = await router.create(ask("[[fake confidence=0.9]] another question"))
    finally:
        await router.aclose()
    assert a.decision.request_hash is not None and len(a.decision.request_hash) == 32
    assert a.decision.request_hash == b.decision.request_hash != c.decision.request_hash
    assert "same question" not in repr(a.decision)


async def test_json_requests_cut_a_low_confidence_triage_early(settings: Settings, upstream: FakeUpstream) -> None:
    long = "word " * 400
    router = Router(settings)
    try:
        routed = await router.create(
            ask(f'[[fake haiku:confidence=0.3 haiku:answer="{long}" haiku:tps=200 opus:tokens=5]] q')
        )
    finally:
        await router.aclose()
    upstream.wait_idle()
    triage = upstream.requests[0]
    assert triage.stream and triage.disconnected and triage.content_events < 20
    assert routed.decision.attempts[0].stream_aborted
    assert routed.decision.reason is EscalationReason.LOW_CONFIDENCE


async def test_triage_can_be_read_whole(settings: Settings, upstream: FakeUpstream) -> None:
    route = settings.route("default").model_copy(update={"stream_triage": False})
    router = Router(settings.model_copy(update={"routes": {**settings.routes, "default": route}}))
    try:
        routed = await router.create(ask('[[fake confidence=0.92 answer="whole"]] q'))
    finally:
        await router.aclose()
    assert routed.text == "whole" and not upstream.requests[0].stream
