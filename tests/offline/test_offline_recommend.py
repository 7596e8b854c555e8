"""Objectives, fall-backs, and the JSON a backtest prints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.offline.offline_synth import continuous, continuous_columns, discrete, random_cascade

from tiered.offline.backtest import run_backtest
from tiered.offline.outcomes import outcomes_from_columns
from tiered.offline.recommend import Budget, MaxFalseConfident, MaxQualityLoss, recommend
from tiered.offline.sweep import default_grid, references, sweep


def test_budget_picks_best_accuracy_within_cost() -> None:
    outcomes = continuous(5000, 1)
    result = sweep(outcomes, default_grid((0.0, 1.0)))
    deep = references(outcomes)[1]
    rec = recommend(result, Budget(0.006), delta=0.05, all_deep=deep)
    assert rec.met and rec.bound is None
    assert rec.point.cost_per_call_usd <= 0.006
    within = result.cost_per_call <= 0.006
    assert rec.point.accuracy == pytest.approx(result.accuracy[within].max())


def test_budget_out_of_reach_and_all_deep_within_budget() -> None:
    outcomes = continuous(2000, 2)
    result = sweep(outcomes, default_grid((0.0, 1.0)))
    deep = references(outcomes)[1]
    low = recommend(result, Budget(0.0005), delta=0.05, all_deep=deep)
    assert not low.met and "No threshold costs at most" in low.message and low.point.label == "all-deep"
    # Here the cascade beats the final tier at some thresholds (the cheap tier is right where it is wrong).
    assert recommend(result, Budget(1.0), delta=0.05, all_deep=deep).met
    cols = continuous_columns(2000, np.random.default_rng(2))
    cols["deep_correct"] = np.ones(2000, dtype=bool)
    perfect = outcomes_from_columns(cols)
    high = recommend(sweep(perfect, default_grid((0.0, 1.0))), Budget(1.0), delta=0.05, all_deep=references(perfect)[1])
    assert not high.met and "fits the budget" in high.message


def test_objective_that_nothing_meets_escalates_everything() -> None:
    outcomes = continuous(2000, 3)
    result = sweep(outcomes, default_grid((0.0, 1.0)))
    deep = references(outcomes)[1]
    for objective in (MaxFalseConfident(0.0), MaxFalseConfident(0.001), MaxQualityLoss(0.0)):
        rec = recommend(result, objective, delta=0.05, all_deep=deep)
        assert not rec.met and rec.point == deep
        assert "Escalate everything" in rec.message


def test_no_recommendation_when_triage_costs_more_than_it_saves() -> None:
    cols = continuous_columns(3000, np.random.default_rng(4))
    cols["cheap_cost_usd"] = np.full(3000, 0.009)  # triage nearly as dear as the final tier
    outcomes = outcomes_from_columns(cols)
    rec = run_backtest(outcomes, objective=MaxFalseConfident(0.1)).recommendation
    assert rec is not None and not rec.met
    assert "no less than sending every query to the final tier" in rec.message


def test_discrete_scores_get_a_threshold_they_can_state() -> None:
    outcomes = discrete(5000, np.random.default_rng(5))
    rec = run_backtest(outcomes, objective=MaxFalseConfident(0.12)).recommendation
    assert rec is not None and rec.met
    assert rec.point.threshold is not None and float(rec.point.threshold).is_integer()
    assert rec.bound is not None and rec.bound.value <= 0.12


def test_json_has_the_documented_fields_and_no_nan() -> None:
    outcomes = random_cascade(2000, 2, np.random.default_rng(6))
    result = run_backtest(outcomes, objective=MaxQualityLoss(0.1), delta=0.1)
    doc = result.to_json()
    text = json.dumps(doc, allow_nan=False)
    for key in (
        "threshold",
        "escalation_rate",
        "accuracy",
        "false_confident_rate",
        "cost_per_call_usd",
        "savings_vs_deep",
        "bound",
        "n",
    ):
        assert key in doc
    assert doc["n"] == 2000
    assert set(doc["references"]) == {"all-cheap", "all-deep", "oracle", "seed 0.8"}
    assert [g["group"] for g in doc["groups"]] == ["a", "b", "c"]
    assert sum(g["n"] for g in doc["groups"]) == 2000
    assert len(doc["grid"]) == 101
    assert doc["calibration"]["fitted"]["format"] == "tiered-calibration"
    assert json.loads(text) == doc


def test_without_objective_the_seed_threshold_is_reported_with_a_pointwise_bound() -> None:
    result = run_backtest(continuous(3000, 7))
    doc = result.to_json(include_grid=False)
    assert doc["threshold"] == 0.8 and doc["objective"] is None and "grid" not in doc
    assert doc["bound"]["name"] == "false_confident_rate_upper"
    assert doc["bound"]["value"] >= doc["false_confident_rate"]


def test_delta_is_checked() -> None:
    with pytest.raises(ValueError, match="delta"):
        run_backtest(continuous(100, 0), delta=1.5)
