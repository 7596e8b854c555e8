"""The router facade on function-backed providers (no sockets): a request routed as JSON and the same request
routed as a stream give the same answer and the same decision."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.cascade.test_function_provider import answers

from tiered.config import load_settings
from tiered.decision import Decision
from tiered.router import Router
from tiered.runner.attempts import Exchange
from tiered.runner.function_provider import FunctionProvider, FunctionProviders
from tiered.upstreams import Upstreams

pytestmark = pytest.mark.anyio

REQUEST = {"model": "tiered", "max_tokens": 100, "messages": [{"role": "user", "content": "Capital of France?"}]}


def router(provider: FunctionProvider, decisions: list[Decision]) -> Router:
    def keep(decision: Decision, exchange: Exchange) -> None:
        decisions.append(decision)

    settings = load_settings(overrides={"routes.default.tiers": ["claude-haiku-4-5", "claude-opus-4-7"]})
    return Router(settings, upstreams=FunctionProviders(provider), observers=[keep])


def what_was_decided(decision: Decision) -> dict[str, Any]:
    """A decision without what differs between two runs of one request (ids, timings, response kind)."""
    return {
        "route": decision.route,
        "answered_by": decision.answered_by,
        "escalated": decision.escalated,
        "reason": decision.reason,
        "confidence": decision.confidence,
        "score": decision.score,
        "threshold": decision.threshold,
        "cost_usd": decision.cost_usd,
        "attempts": [
            (a.tier, a.model, a.role, a.outcome, a.confidence, a.score, a.threshold) for a in decision.attempts
        ],
    }


async def routed_both_ways(confidence: float) -> tuple[tuple[str, Decision], tuple[str, Decision]]:
    decisions: list[Decision] = []
    json_router = router(answers(confidence), decisions)
    routed = await json_router.create(dict(REQUEST))
    as_json = ("".join(block["text"] for block in routed.body["content"]), routed.decision)
    stream = router(answers(confidence), decisions).stream(dict(REQUEST))
    await stream.start()
    raw = b"".join([chunk async for chunk in stream])
    events = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert stream.decision is not None
    assert decisions == [routed.decision, stream.decision]  # each run reached the router's observers once
    return as_json, (text, stream.decision)


@pytest.mark.parametrize(
    ("confidence", "answer", "escalated"), [(0.95, "Paris.", False), (0.3, "Opus says: Paris.", True)]
)
async def test_json_and_stream_give_the_same_answer_and_decision(
    confidence: float, answer: str, escalated: bool
) -> None:
    (json_text, json_decision), (stream_text, stream_decision) = await routed_both_ways(confidence)
    assert json_text == stream_text == answer
    assert json_decision.escalated is escalated and (json_decision.stream, stream_decision.stream) == (False, True)
    assert what_was_decided(json_decision) == what_was_decided(stream_decision)
    assert json_decision.confidence == confidence and json_decision.threshold == 0.8


async def test_a_router_on_a_provider_source_keeps_named_providers_apart() -> None:
    source = FunctionProviders(answers(0.95))
    plain = Router(load_settings(), upstreams=source)
    assert plain.providers is source and plain.deps.providers is source
    assert isinstance(plain.upstreams, Upstreams)  # model lists and token counts still name a provider
    upstreams = Upstreams(load_settings())
    assert Router(load_settings(), upstreams=upstreams).upstreams is upstreams
    await plain.aclose()
