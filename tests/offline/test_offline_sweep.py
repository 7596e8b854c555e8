"""The vectorised sweep against a plain per-query replay of the cascade."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from tests.offline.offline_synth import continuous, random_cascade, true_fcr

from tiered.offline.outcomes import Outcomes
from tiered.offline.sweep import default_grid, evaluate, infer_scale, references, sweep


def replay(outcomes: Outcomes, t: float) -> dict[str, float]:
    """The cascade, one query at a time, exactly as the router would run it."""
    k = outcomes.tiers - 1
    correct = cost = shipped = wrong = first = pos = neg = 0.0
    for q in range(outcomes.n):
        spent = 0.0
        tier = k
        for i in range(k):
            spent += outcomes.cost[q, i]
            if outcomes.has_confidence[q, i] and outcomes.confidence[q, i] >= t:
                tier = i
                break
        else:
            spent += outcomes.cost[q, k]
        right = bool(outcomes.correct[q, tier])
        final = bool(outcomes.correct[q, k])
        correct += right
        cost += spent
        first += tier == 0
        if tier < k:
            shipped += 1
            wrong += not right
        pos += final and not right
        neg += right and not final
    return {
        "correct": correct,
        "cost": cost,
        "shipped": shipped,
        "wrong": wrong,
        "first": first,
        "pos": pos,
        "neg": neg,
    }


@pytest.mark.parametrize(("tiers", "seed"), [(2, 0), (3, 1), (4, 2)])
def test_sweep_matches_per_query_replay(tiers: int, seed: int) -> None:
    outcomes = random_cascade(400, tiers, np.random.default_rng(seed))
    grid = np.array([-1.0, 0.0, 0.05, 0.3, 0.5, 0.55, 0.7, 1.0, 1.5])
    result = sweep(outcomes, grid)
    assert list(result.thresholds) == sorted(grid, reverse=True)
    for j, t in enumerate(result.thresholds):
        want = replay(outcomes, float(t))
        assert result.correct[j] == pytest.approx(want["correct"])
        assert result.cost[j] == pytest.approx(want["cost"])
        assert result.shipped[j] == want["shipped"]
        assert result.shipped_wrong[j] == want["wrong"]
        assert result.tier_answers[j, 0] == want["first"]
        assert result.tier_answers[j].sum() == outcomes.n
        assert result.loss_pos[j] == want["pos"]
        assert result.loss_neg[j] == want["neg"]


@pytest.mark.parametrize("tiers", [2, 3])
def test_evaluate_agrees_with_the_sweep(tiers: int) -> None:
    outcomes = random_cascade(500, tiers, np.random.default_rng(tiers))
    grid = np.array([0.0, 0.25, 0.5, 0.8, 1.0, 2.0])
    result = sweep(outcomes, grid)
    for j, t in enumerate(result.thresholds):
        got, want = dataclasses.asdict(evaluate(outcomes, float(t))), dataclasses.asdict(result.point(j))
        assert got.pop("tier_shares") == pytest.approx(want.pop("tier_shares"))
        assert got == pytest.approx(want)


def test_point_metrics_are_consistent() -> None:
    outcomes = random_cascade(300, 2, np.random.default_rng(5))
    point = evaluate(outcomes, 0.5)
    want = replay(outcomes, 0.5)
    deep_cost = outcomes.cost[:, 1].sum()
    assert point.accuracy == pytest.approx(want["correct"] / 300)
    assert point.escalation_rate == pytest.approx(1 - want["first"] / 300)
    assert point.false_confident_rate == pytest.approx(want["wrong"] / want["shipped"])
    assert point.cost_per_call_usd == pytest.approx(want["cost"] / 300)
    assert point.savings_vs_deep == pytest.approx(1 - want["cost"] / deep_cost)
    assert point.quality_vs_deep == pytest.approx((want["correct"] - outcomes.correct[:, 1].sum()) / 300)


def test_nothing_shipped_has_no_false_confident_rate() -> None:
    outcomes = random_cascade(50, 2, np.random.default_rng(3))
    point = evaluate(outcomes, 2.0)
    assert point.shipped == 0
    assert point.false_confident_rate is None
    assert point.escalation_rate == 1.0


def test_missing_confidence_never_ships_but_a_later_tier_can() -> None:
    outcomes = random_cascade(200, 3, np.random.default_rng(9), missing=0.5)
    assert (~outcomes.has_confidence).any()
    result = sweep(outcomes, np.array([-1e300, 0.0]))
    # At the lowest threshold every scored tier ships: tier 0 answers exactly the queries it scored.
    assert result.tier_answers[-1, 0] == outcomes.has_confidence[:, 0].sum()
    reached_second = ~outcomes.has_confidence[:, 0]
    assert result.tier_answers[-1, 1] == (reached_second & outcomes.has_confidence[:, 1]).sum()


def test_non_finite_thresholds_are_refused() -> None:
    outcomes = random_cascade(20, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        sweep(outcomes, np.array([0.5, -math.inf]))


def test_references() -> None:
    outcomes = random_cascade(500, 3, np.random.default_rng(4))
    cheap, deep, oracle = references(outcomes)
    c = outcomes.correct
    assert cheap.accuracy == pytest.approx(c[:, 0].mean())
    assert cheap.cost_per_call_usd == pytest.approx(outcomes.plain_cost.mean())
    assert cheap.false_confident_rate == pytest.approx(1 - c[:, 0].mean())
    assert deep.accuracy == pytest.approx(c[:, 2].mean())
    assert deep.savings_vs_deep == 0.0
    assert oracle.accuracy == pytest.approx(c.any(axis=1).mean())
    # The oracle ships at the first right tier and pays for every tier up to it.
    expected_cost = 0.0
    for q in range(outcomes.n):
        tier = next((i for i in range(2) if c[q, i]), 2)
        expected_cost += outcomes.cost[q, : tier + 1].sum()
    assert oracle.cost_per_call_usd == pytest.approx(expected_cost / outcomes.n)
    assert oracle.false_confident_rate == 0.0


def test_infer_scale_and_grid() -> None:
    assert infer_scale(continuous(100, 0)) == (0.0, 1.0)
    outcomes = random_cascade(100, 2, np.random.default_rng(0))
    assert infer_scale(outcomes) == (0.0, 1.0)
    grid = default_grid((0.0, 10.0), 101)
    assert grid[0] == 10.0 and grid[-1] == 0.0 and grid.size == 101


def test_million_row_backtest_runs() -> None:
    outcomes = continuous(1_000_000, 11)
    result = sweep(outcomes, default_grid((0.0, 1.0)))
    index = int(np.flatnonzero(np.isclose(result.thresholds, 0.5))[0])
    # At this size the measured false-confident rate sits on the population value.
    assert result.false_confident_rate[index] == pytest.approx(true_fcr(0.5), abs=0.003)
