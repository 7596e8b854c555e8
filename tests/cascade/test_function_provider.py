"""The runner on a function-backed provider, without sockets: a JSON response is the streamed run collected,
with the same answer and the same decision."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered.config import RouteSettings
from tiered.decision import AttemptRole, Decision, Outcome
from tiered.health import CircuitBreaker, InflightCaps
from tiered.pricing import default_price_book
from tiered.runner.attempts import Exchange
from tiered.runner.deps import Deps
from tiered.runner.function_provider import FunctionProvider, FunctionProviders
from tiered.runner.stream import RoutedStream

pytestmark = pytest.mark.anyio

ROUTE = RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})


def answers(confidence: float) -> FunctionProvider:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if body["model"].startswith("claude-haiku"):
            text = json.dumps({"confidence": confidence, "answer": "Paris."})
        else:
            text = "Opus says: Paris."
        return {
            "id": f"msg_{body['model']}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 7},
        }

    return FunctionProvider(answer)


def deps(provider: FunctionProvider, decisions: list[Decision]) -> Deps:
    def sink(decision: Decision, exchange: Exchange) -> None:
        decisions.append(decision)

    return Deps(
        providers=FunctionProviders(provider),
        prices=default_price_book(),
        breaker=CircuitBreaker(5, 30.0),
        caps=InflightCaps({}),
        sink=sink,
        calibrate_for=lambda route, tier: None,
        replica="test",
    )


async def run(provider: FunctionProvider, *, collect: bool) -> tuple[str, Decision]:
    decisions: list[Decision] = []
    request = {"model": "tiered", "max_tokens": 100, "messages": [{"role": "user", "content": "Capital of France?"}]}
    routed = RoutedStream(
        deps(provider, decisions), request, "default", ROUTE, headers=None, key_id=None, collect=collect
    )
    await routed.start()
    if collect:
        body = routed.collected()
        text = "".join(block["text"] for block in body["content"])
    else:
        raw = b"".join([chunk async for chunk in routed])
        events = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
        text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    (decision,) = decisions
    assert routed.decision is decision and decision.stream is not collect
    return text, decision


@pytest.mark.parametrize("collect", [True, False])
async def test_a_confident_triage_ships_in_both_kinds(collect: bool) -> None:
    provider = answers(0.95)
    text, decision = await run(provider, collect=collect)
    assert text == "Paris." and decision.answered_by == "claude-haiku-4-5" and not decision.escalated
    (attempt,) = decision.attempts
    assert attempt.outcome is Outcome.SHIPPED and attempt.threshold == 0.8 and attempt.score == pytest.approx(0.95)
    assert [r.get("stream") for r in provider.requests] == [True]  # the triage is streamed in both kinds


@pytest.mark.parametrize("collect", [True, False])
async def test_a_doubtful_triage_escalates_in_both_kinds(collect: bool) -> None:
    provider = answers(0.3)
    text, decision = await run(provider, collect=collect)
    assert text == "Opus says: Paris." and decision.escalated and decision.answered_by == "claude-opus-4-7"
    triage, final = decision.attempts
    assert (triage.role, triage.outcome, triage.confidence) == (AttemptRole.TRIAGE, Outcome.ESCALATED, 0.3)
    assert final.outcome is Outcome.ANSWERED and (decision.confidence, decision.threshold) == (0.3, 0.8)
    # the final call of a JSON response is sent whole; a stream's is streamed
    assert provider.requests[1].get("stream") is (None if collect else True)
