"""The threshold controller: the pure rule, recorded changes with their evidence, and the shared state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import shipped, store

from tiered.config import Settings, load_settings
from tiered.quality.controller import ThresholdController, decide
from tiered.quality.stats import FalseConfidentSummary
from tiered.quality.thresholds import ANY, ThresholdSync, current_changes, effective_threshold, history, record_change
from tiered.router import Router
from tiered.store.grades import record_grade

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def settings(**extra: Any) -> Settings:
    base = {
        "quality.min_grades": 10,
        "quality.controller_rule": "upper-bound",
        "routes.default.threshold_ceiling": 0.9,
        "routes.default.threshold_step": 0.05,
    }
    return load_settings(overrides={**base, **extra})


def summary(n: int, wrong: int, bound: float) -> FalseConfidentSummary:
    return FalseConfidentSummary("default", None, n, wrong, wrong / n if n else None, bound, 0.95, 0.05)


def test_decide() -> None:
    s = settings()
    spec, quality = s.route("default"), s.quality
    assert decide(spec, quality, 0.8, summary(5, 5, 0.9), None, NOW).action == "hold"  # too few grades
    assert decide(spec, quality, 0.8, summary(30, 0, 0.095), None, NOW).action == "hold"  # nothing wrong seen
    up = decide(spec, quality, 0.8, summary(30, 3, 0.25), None, NOW)
    assert (up.action, up.old, up.new) == ("raise", 0.8, 0.85)
    assert "raised 0.8 -> 0.85" in up.reason and "3 wrong of 30" in up.reason
    assert decide(spec, quality, 0.88, summary(30, 3, 0.25), None, NOW).new == 0.9  # clipped to the ceiling
    top = decide(spec, quality, 0.9, summary(30, 3, 0.25), None, NOW)
    assert top.action == "hold" and "ceiling" in top.reason
    assert decide(spec, quality, 0.85, summary(300, 0, 0.01), None, NOW).action == "hold"  # lowering is off
    lowering = settings(**{"routes.default.threshold_lower": True})
    low = decide(lowering.route("default"), lowering.quality, 0.85, summary(300, 0, 0.01), None, NOW)
    assert (low.action, low.new) == ("lower", 0.8)
    recent = NOW - timedelta(minutes=5)
    assert (
        decide(lowering.route("default"), lowering.quality, 0.85, summary(300, 0, 0.01), recent, NOW).action == "hold"
    )
    at_floor = decide(lowering.route("default"), lowering.quality, 0.8, summary(300, 0, 0.01), None, NOW)
    assert at_floor.action == "hold"  # never below the configured threshold


def grade_shipped(engine: Engine, prefix: str, n: int, wrong: int, threshold: float) -> None:
    store(engine, *(shipped(f"{prefix}{i}", threshold=threshold) for i in range(n)))
    for i in range(n):
        record_grade(engine, f"{prefix}{i}", "incorrect" if i < wrong else "correct", "judge")


def test_raises_step_by_step_to_the_ceiling_and_records_why(engine: Engine) -> None:
    s = settings()
    controller = ThresholdController(s, engine)
    grade_shipped(engine, "a", 20, 5, 0.8)
    first = controller.evaluate("default")
    assert first.change is not None and first.change.new_threshold == 0.85
    assert first.change.evidence["summary"]["wrong"] == 5 and first.change.evidence["action"] == "raise"
    # the evidence was gathered at 0.8: no second raise until answers shipped at 0.85 are graded
    assert controller.evaluate("default").change is None
    grade_shipped(engine, "b", 12, 2, 0.85)
    second = controller.evaluate("default")
    assert second.change is not None and (second.change.old_threshold, second.change.new_threshold) == (0.85, 0.9)
    grade_shipped(engine, "c", 12, 6, 0.9)
    third = controller.evaluate("default")
    assert third.change is None and third.step.action == "hold" and "ceiling" in third.step.reason
    assert third.summary.over_target
    changes = history(engine, "default")
    assert [(c.old_threshold, c.new_threshold) for c in changes] == [(0.85, 0.9), (0.8, 0.85)]
    assert all(c.reason.startswith("controller: false-confident upper bound") for c in changes)
    assert effective_threshold(s, "default", current_changes(engine)["default"]) == 0.9


def test_two_replicas_seeing_the_same_evidence_raise_once(engine: Engine) -> None:
    s = settings()
    grade_shipped(engine, "a", 20, 5, 0.8)
    newest = current_changes(engine).get("default")
    assert newest is None
    won = record_change(engine, route="default", old=0.8, new=0.85, reason="r", evidence={}, expected_last_id=None)
    lost = record_change(engine, route="default", old=0.8, new=0.85, reason="r", evidence={}, expected_last_id=None)
    assert won is not None and lost is None
    assert len(history(engine, "default")) == 1
    assert ThresholdController(s, engine).evaluate("default").change is None  # evidence is from 0.8, now 0.85


def test_sync_applies_changes_and_resets(engine: Engine) -> None:
    s = settings()
    router = Router(s)
    sync = ThresholdSync(s, router, engine)
    assert sync.poll() == {"default": None, "three-tier": None}
    record_change(engine, route="default", old=0.8, new=0.87, reason="manual", evidence={}, expected_last_id=ANY)
    sync.poll()
    assert router.route_settings("default").threshold == 0.87
    assert router.route_settings("three-tier").threshold == 0.8
    record_change(
        engine, route="default", old=0.87, new=0.8, reason="reset", evidence={"reset": True}, expected_last_id=ANY
    )
    sync.poll()
    assert router.route_settings("default").threshold == 0.8
    assert sync.applied["default"] is None


@pytest.mark.parametrize("unknown", ["no-such-route"])
def test_changes_of_unknown_routes_are_ignored(engine: Engine, unknown: str) -> None:
    s = settings()
    router = Router(s)
    record_change(engine, route=unknown, old=None, new=0.9, reason="x", evidence={}, expected_last_id=ANY)
    assert unknown not in ThresholdSync(s, router, engine).poll()
