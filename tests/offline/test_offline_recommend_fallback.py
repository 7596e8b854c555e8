"""The fallback recommender for --max-false-confident: small fixed inputs, and its guarantee by simulation.

The guarantee tests draw calibration sets from models with known population rates (closed forms in
offline_synth), let the procedure pick a threshold, and check the population false-confident rate there.
Over many seeded trials the violation frequency must stay within a binomial tolerance of delta. The same
harness shows the naive rule (the lowest threshold whose measured rate meets the target) violating far more,
so it can catch an invalid procedure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import typer
from offline_synth import (
    DEEP_ACC,
    bad_top,
    bad_top_true_fcr,
    continuous,
    discrete,
    discrete_true_fcr,
    true_fcr,
)
from typer.testing import CliRunner

from tiered.offline import commands
from tiered.offline.backtest import run_backtest
from tiered.offline.bounds import start_count
from tiered.offline.gastro import write_columns_csv
from tiered.offline.outcomes import Outcomes, outcomes_from_columns
from tiered.offline.recommend import MaxFalseConfident, Recommendation, recommend
from tiered.offline.recommend_fallback import FALLBACK, SPARE, _fallback_walk, fallback_levels, recommend_fallback
from tiered.offline.sweep import Sweep, default_grid, references, sweep

TRIALS = 400


def slack(delta: float, trials: int = TRIALS) -> float:
    """Three binomial standard deviations of a violation frequency whose true value is delta."""
    return 3 * math.sqrt(delta * (1 - delta) / trials)


def noisy_top(top_wrong: int = 9) -> Outcomes:
    """A 0-10 score: 20 answers stated at 10 (``top_wrong`` of them wrong), 280 at 9 (30 wrong)."""
    conf = [10.0] * 20 + [9.0] * 280
    cheap = [i >= top_wrong for i in range(20)] + [i >= 30 for i in range(280)]
    return outcomes_from_columns(
        {
            "confidence": conf,
            "cheap_correct": cheap,
            "deep_correct": [True] * 300,
            "cheap_cost_usd": [0.0001] * 300,
            "deep_cost_usd": [0.004] * 300,
        },
        source="noisy-top",
    )


def pick(outcomes: Outcomes, rate: float, delta: float, grid: np.ndarray) -> tuple[Recommendation, Sweep]:
    result = sweep(outcomes, grid)
    return recommend_fallback(result, rate, delta=delta, all_deep=references(outcomes)[1]), result


def test_levels_sit_on_two_checkpoints_and_sum_to_delta() -> None:
    rate, delta = 0.5, 0.05
    first = start_count(rate, (1 - SPARE) * delta)
    assert first is not None
    shipped = np.array([first - 1, first, first + 5, 149, 150, 290])
    levels = fallback_levels(shipped, 300, rate, delta)
    assert levels.tolist() == pytest.approx([0, (1 - SPARE) * delta, 0, 0, SPARE * delta, 0])
    # No threshold ships half the queries: the spare level joins the first checkpoint (today's walk).
    merged = fallback_levels(np.array([first - 1, first, 100]), 300, rate, delta)
    assert merged.tolist() == pytest.approx([0, delta, 0])
    assert fallback_levels(np.array([1, 2]), 300, rate, delta).sum() == 0  # nothing ships enough


def test_walk_recycles_the_level_of_rejected_hypotheses_only() -> None:
    levels = np.array([0.04, 0.0, 0.01])
    assert _fallback_walk(np.array([0.01, 0.02, 0.045]), levels).tolist() == pytest.approx([0.04, 0.04, 0.05])
    # The first fails: the second has no level of its own, the third is tested at its own 0.01.
    assert _fallback_walk(np.array([0.5, 0.001, 0.005]), levels).tolist() == pytest.approx([0, 0, 0.01])
    assert _fallback_walk(np.array([0.5, 0.001, 0.02]), levels).tolist() == [0, 0, 0]


def test_a_noisy_top_cell_does_not_end_the_walk() -> None:
    outcomes = noisy_top()
    deep = references(outcomes)[1]
    old = recommend(sweep(outcomes, default_grid((0.0, 10.0))), MaxFalseConfident(0.5), delta=0.05, all_deep=deep)
    assert not old.met  # 9 wrong of 20 at 10/10 fails the first test, and the walk stops there
    rec, _ = pick(outcomes, 0.5, 0.05, default_grid((0.0, 10.0)))
    assert rec.met and rec.procedure == FALLBACK
    assert rec.point.threshold == 9.0 and rec.point.shipped == 300 and rec.point.shipped_wrong == 39
    assert rec.bound is not None and 39 / 300 < rec.bound.value <= 0.5
    # Certified: 9.0, 8.9, ..., 0.0 (all ship the same 300 answers), tested at the spare level 0.1 delta.
    assert "fallback" in rec.bound.method and "level 0.005 " in rec.bound.method and rec.qualifying == 91


def test_a_clean_top_cell_keeps_the_full_walk() -> None:
    # The top passes at the first checkpoint's level; the level is carried to 9, tested at the full delta.
    rec, _ = pick(noisy_top(top_wrong=0), 0.5, 0.05, default_grid((0.0, 10.0)))
    assert rec.met and rec.point.threshold == 9.0 and rec.qualifying == 101
    assert "level 0.05 " in rec.bound.method if rec.bound else False


def test_unreachable_target_escalates_everything() -> None:
    outcomes = noisy_top()
    rec, _ = pick(outcomes, 0.05, 0.05, default_grid((0.0, 10.0)))
    assert not rec.met and rec.point.label == "all-deep" and rec.procedure == FALLBACK
    with pytest.raises(ValueError, match="delta"):
        pick(outcomes, 0.1, 1.0, default_grid((0.0, 10.0)))


def test_backtest_json_names_the_procedure() -> None:
    outcomes = noisy_top()
    doc = run_backtest(outcomes, objective=MaxFalseConfident(0.5), fcr_procedure=FALLBACK).to_json()
    assert doc["threshold"] == 9.0 and doc["objective"]["procedure"] == "fallback"
    assert doc["bound"]["name"] == "false_confident_rate_upper" and doc["bound"]["delta"] == 0.05
    default = run_backtest(outcomes, objective=MaxFalseConfident(0.5)).to_json()
    assert default["objective"]["procedure"] == "fixed-sequence" and default["escalate_everything"]
    with pytest.raises(ValueError, match="fcr_procedure"):
        run_backtest(outcomes, objective=MaxFalseConfident(0.5), fcr_procedure="nope")


def test_cli_option(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(commands.backtest)
    app.command()(lambda: None)  # a second command, so that backtest is a subcommand as in the real CLI
    outcomes = noisy_top()
    path = tmp_path / "noisy.csv"
    write_columns_csv(
        {
            "confidence": outcomes.confidence[:, 0],
            "cheap_correct": outcomes.correct[:, 0].astype(int),
            "deep_correct": outcomes.correct[:, 1].astype(int),
            "cheap_cost_usd": outcomes.cost[:, 0],
            "deep_cost_usd": outcomes.cost[:, 1],
        },
        path,
    )
    args = ["backtest", str(path), "--max-false-confident", "0.5", "--json", "--fcr-procedure"]
    result = CliRunner().invoke(app, [*args, "fallback"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["threshold"] == 9.0
    bad = CliRunner().invoke(app, [*args, "nope"])
    assert bad.exit_code == 2 and "--fcr-procedure takes fixed-sequence or fallback" in bad.output


def _violations(
    draw: Callable[[int], Outcomes], truth: Callable[[float], float], rate: float, delta: float, grid: np.ndarray
) -> tuple[float, float, float]:
    """Violation frequency of the fallback and of the naive rule, and how often the fallback recommends."""
    violations = naive = met = 0
    for trial in range(TRIALS):
        outcomes = draw(trial)
        rec, result = pick(outcomes, rate, delta, grid)
        if rec.met and rec.point.threshold is not None:
            met += 1
            violations += truth(rec.point.threshold) > rate
        fcr = result.false_confident_rate
        ok = np.flatnonzero((result.shipped > 0) & (fcr <= rate))
        naive += bool(ok.size) and truth(float(result.thresholds[ok[-1]])) > rate
    return violations / TRIALS, naive / TRIALS, met / TRIALS


@pytest.mark.parametrize(("n", "rate", "delta"), [(300, 0.2, 0.05), (3000, 0.1, 0.2)])
def test_guarantee_continuous(n: int, rate: float, delta: float) -> None:
    violated, naive, met = _violations(
        lambda trial: continuous(n, seed=20_000 + trial), true_fcr, rate, delta, default_grid((0.0, 1.0))
    )
    assert violated <= delta + slack(delta)
    assert naive > 0.3  # the harness catches an invalid rule
    assert met > 0.5  # and the procedure is not valid merely by never recommending


def test_guarantee_discrete_score() -> None:
    # FCR(>= 9) = 8.7% and FCR(>= 8) = 10.85% straddle the target: 8 is a violation that noise hides.
    rate, delta = 0.10, 0.1
    rng = np.random.default_rng(17)
    violated, naive, _ = _violations(
        lambda _: discrete(400, rng), discrete_true_fcr, rate, delta, default_grid((0.0, 10.0))
    )
    assert violated <= delta + slack(delta)
    assert naive > 2 * delta


def test_guarantee_with_a_badly_calibrated_top() -> None:
    rate, delta = 0.10, 0.1
    rng = np.random.default_rng(19)
    violated, naive, _ = _violations(
        lambda _: bad_top(3000, rng), bad_top_true_fcr, rate, delta, default_grid((0.0, 1.0))
    )
    assert violated <= delta + slack(delta)
    assert naive > 0.3


def test_guarantee_with_a_noisy_top_cell() -> None:
    """The case the fallback is for: a small top cell right at the target, a large safe cell below it, and
    one below that just over the target. The population: 6% at 10 (FCR 0.2), 60% at 9 (FCR 0.15), 34% at 8
    (FCR 0.3), so FCR(>= 9) = 15.5% and FCR(>= 8) = 20.4%."""
    mass, err = np.array([0.34, 0.60, 0.06]), np.array([0.3, 0.15, 0.2])
    scores = np.array([8.0, 9.0, 10.0])

    def truth(t: float) -> float:
        ship = scores >= t
        return float((mass * err)[ship].sum() / mass[ship].sum())

    rate, delta = 0.2, 0.05
    assert truth(9) < rate < truth(8)
    rng = np.random.default_rng(23)

    def draw(_: int) -> Outcomes:
        cell = rng.choice(3, size=300, p=mass)
        return outcomes_from_columns(
            {
                "confidence": scores[cell],
                "cheap_correct": rng.uniform(size=300) >= err[cell],
                "deep_correct": rng.uniform(size=300) < DEEP_ACC,
                "cheap_cost_usd": np.full(300, 0.001),
                "deep_cost_usd": np.full(300, 0.01),
            }
        )

    violated, naive, met = _violations(draw, truth, rate, delta, default_grid((0.0, 10.0)))
    assert violated <= delta + slack(delta)
    assert naive > 0.3
    assert met > 0.3


def test_html_report_explains_the_procedure_used() -> None:
    from tiered.offline.report import html_report

    outcomes = noisy_top()
    fallback = html_report(run_backtest(outcomes, objective=MaxFalseConfident(0.5), fcr_procedure=FALLBACK))
    assert "fallback procedure (Wiens 2003)" in fallback and "fixed-sequence testing" not in fallback
    default = html_report(run_backtest(outcomes, objective=MaxFalseConfident(0.5)))
    assert "fixed-sequence testing" in default and "Wiens" not in default
