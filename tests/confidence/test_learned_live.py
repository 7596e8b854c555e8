"""The learned strategy live through the router against the fake upstream: JSON and streamed requests.

The model distrusts hedged answers and ignores the stated confidence, so a plain answer stated at 0.2 ships
and a hedged one stated at 0.99 escalates: the opposite of what the self-report would do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests._sse import sse_events as parse_sse

from tiered.confidence.features import FEATURE_NAMES
from tiered.confidence.linear import LinearConfidence
from tiered.confidence.model_file import ModelFile, write_model_file
from tiered.config import Settings, load_settings
from tiered.decision import EscalationReason
from tiered.errors import ConfigError
from tiered.fake_upstream import FakeUpstream
from tiered.router import Router

pytestmark = pytest.mark.anyio

PLAIN = '[[fake haiku:confidence=0.2 haiku:answer="Twelve legs." opus:answer="12"]] How many legs have 3 cats?'
HEDGED = '[[fake haiku:confidence=0.99 haiku:answer="Maybe ten, I think." opus:answer="12"]] How many legs?'


def ask(text: str) -> dict[str, Any]:
    return {"max_tokens": 200, "messages": [{"role": "user", "content": text}]}


def learned_settings(upstream: FakeUpstream, model: Path, **route: Any) -> Settings:
    n = len(FEATURE_NAMES)
    coef = [0.0] * n
    coef[FEATURE_NAMES.index("hedges")] = -8.0
    write_model_file(model, ModelFile(2, LinearConfidence(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, tuple(coef), 2.0)))
    env = {
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "TIERED_ROUTES__DEFAULT__CONFIDENCE": "learned",
        "TIERED_ROUTES__DEFAULT__CONFIDENCE_MODEL": str(model),
        **{f"TIERED_ROUTES__DEFAULT__{k.upper()}": str(v) for k, v in route.items()},
    }
    return load_settings(environ=env)


@pytest.mark.parametrize("stream_triage", [True, False])
async def test_json_requests_are_judged_by_the_learned_score(
    upstream: FakeUpstream, tmp_path: Path, stream_triage: bool
) -> None:
    router = Router(learned_settings(upstream, tmp_path / "m.json", stream_triage=str(stream_triage).lower()))
    try:
        shipped = await router.create(ask(PLAIN))
        escalated = await router.create(ask(HEDGED))
    finally:
        await router.aclose()
    assert shipped.text == "Twelve legs." and not shipped.decision.escalated
    assert shipped.decision.confidence == 0.2  # the stated confidence is still what is recorded
    assert escalated.text == "12" and escalated.decision.reason is EscalationReason.LOW_CONFIDENCE


async def test_streamed_requests_wait_for_the_whole_triage_answer(upstream: FakeUpstream, tmp_path: Path) -> None:
    router = Router(learned_settings(upstream, tmp_path / "m.json"))
    texts = []
    try:
        for prompt in (PLAIN, HEDGED):
            routed = router.stream(ask(prompt))
            head = await routed.start()
            body = b"".join([chunk async for chunk in routed])
            events = parse_sse(body)
            texts.append((head.escalated, "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")))
    finally:
        await router.aclose()
    assert texts == [(False, "Twelve legs."), (True, "12")]


async def test_a_missing_or_mispinned_model_is_a_config_error(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = learned_settings(upstream, tmp_path / "m.json", confidence_version=3)
    router = Router(settings)
    try:
        with pytest.raises(ConfigError, match="holds version 2, the route pins version 3"):
            await router.create(ask(PLAIN))
    finally:
        await router.aclose()
