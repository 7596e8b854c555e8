"""Every triage records what it was judged by: its raw confidence, its calibrated score and the threshold in
force, shipped or escalated, JSON or streamed; and a threshold override's one rule for per-tier thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tiered.config import RouteSettings, Settings
from tiered.decision import AttemptRole, Decision, Outcome
from tiered.fake_upstream import FakeUpstream
from tiered.offline.calibration_map import Calibration, save_calibration
from tiered.router import Router, overridden

pytestmark = pytest.mark.anyio


def ask(text: str) -> dict[str, Any]:
    return {"model": "tiered", "max_tokens": 400, "messages": [{"role": "user", "content": text}]}


def with_route(settings: Settings, **changes: Any) -> Settings:
    route = settings.routes["default"].model_copy(update=changes)
    return settings.model_copy(update={"routes": {**settings.routes, "default": route}})


async def routed(settings: Settings, text: str, *, stream: bool) -> Decision:
    router = Router(settings)
    try:
        if not stream:
            return (await router.create(ask(text))).decision
        routed = router.stream(ask(text))
        await routed.start()
        async for _ in routed:
            pass
        assert routed.decision is not None
        return routed.decision
    finally:
        await router.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_an_escalated_decision_keeps_its_confidence_and_threshold(
    settings: Settings, upstream: FakeUpstream, stream: bool
) -> None:
    decision = await routed(settings, "[[fake haiku:confidence=0.62]] Hard one?", stream=stream)
    assert decision.escalated and decision.answered_by == "claude-opus-4-7"
    triage, final = decision.attempts
    assert triage.role is AttemptRole.TRIAGE and triage.outcome is Outcome.ESCALATED
    assert triage.confidence == pytest.approx(0.62) and triage.score == pytest.approx(0.62)
    assert triage.threshold == 0.8
    assert (final.score, final.threshold) == (None, None)
    # the decision says "0.62 < 0.80" whatever the threshold becomes later
    assert (decision.confidence, decision.score, decision.threshold) == (triage.confidence, triage.score, 0.8)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_calibrated_tier_records_the_raw_and_the_calibrated_confidence(
    settings: Settings, upstream: FakeUpstream, tmp_path: Path, stream: bool
) -> None:
    path = tmp_path / "cal.json"
    save_calibration(Calibration(x=(0.0, 1.0), y=(0.0, 0.5)), path)  # halves every confidence
    settings = with_route(settings, calibration=path)
    shipped = await routed(settings, '[[fake confidence=0.9 answer="Paris."]] Capital?', stream=stream)
    # 0.9 raw is 0.45 calibrated: below 0.8, escalated, and both figures are kept
    (triage, _final) = shipped.attempts
    assert triage.confidence == pytest.approx(0.9) and triage.score == pytest.approx(0.45)
    assert triage.threshold == 0.8 and shipped.score == pytest.approx(0.45)


async def test_a_shipped_decision_records_its_score(settings: Settings, upstream: FakeUpstream) -> None:
    decision = await routed(settings, '[[fake confidence=0.93 answer="Paris."]] Capital?', stream=False)
    (attempt,) = decision.attempts
    assert attempt.outcome is Outcome.SHIPPED
    assert decision.confidence == pytest.approx(0.93) and decision.score == pytest.approx(0.93)
    assert decision.threshold == 0.8
    assert attempt.score == pytest.approx(0.93) and attempt.threshold == 0.8


THREE = RouteSettings.model_validate(
    {
        "threshold": 0.7,
        "tiers": [
            {"model": "claude-haiku-4-5", "threshold": 0.95},
            {"model": "claude-sonnet-4-6", "threshold": 0.6},
            "claude-opus-4-7",
        ],
    }
)


def test_an_override_replaces_the_route_threshold_and_is_a_floor_for_a_tier_s_own() -> None:
    route = overridden(THREE, 0.85)
    assert route.threshold == 0.85
    # a stricter own threshold stays; a laxer one is raised to the override
    assert [route.threshold_for(t) for t in (0, 1)] == [0.95, 0.85]
    assert [THREE.threshold_for(t) for t in (0, 1)] == [0.95, 0.6]  # the configuration is not changed


def test_set_threshold_applies_the_rule_and_none_restores_the_configuration(settings: Settings) -> None:
    settings = settings.model_copy(update={"routes": {**settings.routes, "three": THREE}})
    router = Router(settings)
    router.set_threshold("three", 0.9)
    assert [router.route_settings("three").threshold_for(t) for t in (0, 1)] == [0.95, 0.9]
    router.set_threshold("three", None)
    assert [router.route_settings("three").threshold_for(t) for t in (0, 1)] == [0.95, 0.6]
