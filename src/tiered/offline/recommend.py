"""Pick a threshold for one objective, with a finite-sample guarantee where the objective is a risk.

* :class:`MaxFalseConfident` ``A``: certify, from the highest threshold down, ``H0: FCR(t) > A`` with the
  exact binomial test on the shipped queries (valid conditionally on how many shipped, hence marginally);
  the walk starts at the first threshold that ships enough queries for a true rate of ``A / 2`` to pass
  at least half the time (:func:`~tiered.offline.bounds.start_count`); see docs/backtest.md for what this
  costs the guarantee.
* :class:`MaxQualityLoss` ``E``: the loss ``final_correct - cascade_correct`` lies in {-1, 0, 1}; its mean is
  bounded above by a Clopper-Pearson upper bound on P(loss = 1) minus a lower bound on P(loss = -1), each
  at ``delta / 2``; thresholds are certified from the highest down while that bound is at most ``E``.
* :class:`Budget` ``C``: the best accuracy among thresholds whose cost per call is at most ``C``, in sample
  (no statistical guarantee: cost is not a bounded risk).

Every threshold certified before the first failure is covered by the guarantee together, so the cheapest
of them is recommended (among thresholds that behave alike on the data, the highest). When none qualifies,
or the best one costs no less than sending everything to the final tier (too few answers ship to pay for
triage), the recommendation says so and falls back to escalating everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tiered.offline.bounds import (
    binomial_pvalue,
    clopper_pearson_lower,
    clopper_pearson_upper,
    leading_run,
    start_count,
)
from tiered.offline.sweep import Point, Sweep

__all__ = [
    "Bound",
    "Budget",
    "MaxFalseConfident",
    "MaxQualityLoss",
    "Objective",
    "Recommendation",
    "recommend",
]


@dataclass(frozen=True, slots=True)
class MaxFalseConfident:
    """Keep the false-confident rate (wrong among shipped) at most ``rate``."""

    rate: float


@dataclass(frozen=True, slots=True)
class MaxQualityLoss:
    """Keep accuracy at most ``loss`` (absolute, e.g. 0.02) below the final tier's."""

    loss: float


@dataclass(frozen=True, slots=True)
class Budget:
    """Best accuracy at a cost per call of at most ``cost_per_call_usd``."""

    cost_per_call_usd: float


Objective = MaxFalseConfident | MaxQualityLoss | Budget


@dataclass(frozen=True, slots=True)
class Bound:
    """The statistical bound behind a recommendation: ``value`` <= ``target`` holds w.p. >= 1 - delta."""

    name: str
    value: float
    target: float
    delta: float
    method: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The chosen threshold (``met``) or the fall-back of escalating everything (``point`` is all-deep).

    ``qualifying`` counts the grid thresholds that qualify: certified by the test, or within the budget.
    ``procedure`` names how a risk objective was tested (``fixed-sequence``, or ``fallback`` from
    :mod:`tiered.offline.recommend_fallback`).
    """

    objective: str
    target: float
    delta: float | None
    met: bool
    point: Point
    bound: Bound | None
    qualifying: int
    message: str
    procedure: str = "fixed-sequence"


def recommend(result: Sweep, objective: Objective, *, delta: float, all_deep: Point) -> Recommendation:
    """The threshold of ``result``'s grid that best serves ``objective``; ``all_deep`` is the fall-back."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if isinstance(objective, MaxFalseConfident):
        return _max_false_confident(result, objective.rate, delta, all_deep)
    if isinstance(objective, MaxQualityLoss):
        return _max_quality_loss(result, objective.loss, delta, all_deep)
    return _budget(result, objective.cost_per_call_usd, all_deep)


def _max_false_confident(result: Sweep, rate: float, delta: float, all_deep: Point) -> Recommendation:
    shipped, wrong = result.shipped, result.shipped_wrong
    # The top thresholds ship too few queries to certify anything reliably; testing them would end the walk
    # on noise before it reached thresholds with enough data, so it starts lower (see docs/backtest.md).
    smallest = start_count(rate, delta)
    testable = np.flatnonzero(shipped >= smallest) if smallest is not None else np.empty(0, dtype=np.intp)
    start = int(testable[0]) if testable.size else shipped.size
    pvalues = binomial_pvalue(wrong[start:], shipped[start:], rate)
    certified = start + np.arange(leading_run(pvalues <= delta))
    if certified.size == 0:
        return false_confident_not_met(result, rate, delta, all_deep)
    index = cheapest(result, certified)
    if (
        refusal := no_savings(result, index, all_deep, objective="max_false_confident", target=rate, delta=delta)
    ) is not None:
        return refusal
    upper = float(clopper_pearson_upper(wrong[index], shipped[index], delta))
    return false_confident_met(
        result,
        index,
        rate,
        delta,
        upper,
        qualifying=int(certified.size),
        method="exact binomial test on the shipped queries, fixed-sequence from the highest threshold "
        "(Learn-then-Test); value is the Clopper-Pearson upper bound at the recommended threshold",
    )


def false_confident_not_met(
    result: Sweep, rate: float, delta: float, all_deep: Point, procedure: str = "fixed-sequence"
) -> Recommendation:
    """No threshold is certified for ``max_false_confident``: escalate everything."""
    return not_met(
        "max_false_confident",
        rate,
        delta,
        all_deep,
        f"No threshold keeps the false-confident rate at most {rate:.2%} with {1 - delta:.0%} "
        f"confidence on these {result.n} queries. Escalate everything (send every query to the final "
        "tier), or collect more graded outcomes, or accept a higher rate.",
        procedure=procedure,
    )


def false_confident_met(
    result: Sweep,
    index: int,
    rate: float,
    delta: float,
    upper: float,
    *,
    qualifying: int,
    method: str,
    procedure: str = "fixed-sequence",
) -> Recommendation:
    """The recommendation of threshold ``index``, certified for ``max_false_confident`` with bound ``upper``."""
    point = result.point(index, "recommended")
    return Recommendation(
        objective="max_false_confident",
        target=rate,
        delta=delta,
        met=True,
        point=point,
        bound=Bound(name="false_confident_rate_upper", value=upper, target=rate, delta=delta, method=method),
        qualifying=qualifying,
        message=f"Threshold {point.threshold:g} ships {1 - point.escalation_rate:.1%} of queries with a "
        f"false-confident rate of {pct(point.false_confident_rate)} (at most {upper:.2%} with "
        f"{1 - delta:.0%} confidence; target {rate:.2%}) and saves {pct(point.savings_vs_deep)} "
        "against the final tier.",
        procedure=procedure,
    )


def _max_quality_loss(result: Sweep, loss: float, delta: float, all_deep: Point) -> Recommendation:
    upper = clopper_pearson_upper(result.loss_pos, result.n, delta / 2) - clopper_pearson_lower(
        result.loss_neg, result.n, delta / 2
    )
    run = leading_run(upper <= loss)
    if run == 0:
        return not_met(
            "max_quality_loss",
            loss,
            delta,
            all_deep,
            f"No threshold keeps accuracy within {loss:.2%} of the final tier with {1 - delta:.0%} "
            f"confidence on these {result.n} queries. Escalate everything (send every query to the final "
            "tier), or collect more graded outcomes, or accept a larger loss.",
        )
    index = cheapest(result, np.arange(run))
    if (
        refusal := no_savings(result, index, all_deep, objective="max_quality_loss", target=loss, delta=delta)
    ) is not None:
        return refusal
    point = result.point(index, "recommended")
    return Recommendation(
        objective="max_quality_loss",
        target=loss,
        delta=delta,
        met=True,
        point=point,
        bound=Bound(
            name="quality_loss_upper",
            value=float(upper[index]),
            target=loss,
            delta=delta,
            method="Clopper-Pearson upper bound on P(final right, cascade wrong) minus lower bound on "
            "P(final wrong, cascade right), each at delta/2, fixed-sequence from the highest threshold "
            "(Learn-then-Test)",
        ),
        qualifying=run,
        message=f"Threshold {point.threshold:g} escalates {point.escalation_rate:.1%} of queries with "
        f"accuracy {point.accuracy:.2%} ({100 * point.quality_vs_deep:+.1f} points against the final tier; the "
        f"loss is at most {100 * upper[index]:.1f} points with {1 - delta:.0%} confidence, target "
        f"{100 * loss:.1f}) and saves {pct(point.savings_vs_deep)}.",
    )


def _budget(result: Sweep, budget: float, all_deep: Point) -> Recommendation:
    cost = result.cost_per_call
    feasible = np.flatnonzero(cost <= budget + 1e-15)
    if feasible.size == 0:
        return not_met(
            "budget",
            budget,
            None,
            all_deep,
            f"No threshold costs at most ${budget:.6g} per call (the cheapest costs ${cost.min():.6g}). "
            "Escalate everything (send every query to the final tier), or raise the budget.",
        )
    # Best accuracy first, then the lowest cost, then the highest threshold (grid order).
    order = np.lexsort((feasible, cost[feasible], -result.correct[feasible]))
    index = int(feasible[order[0]])
    point = result.point(index, "recommended")
    if all_deep.cost_per_call_usd <= budget and all_deep.accuracy >= point.accuracy:
        return not_met(
            "budget",
            budget,
            None,
            all_deep,
            f"Sending every query to the final tier fits the budget (${all_deep.cost_per_call_usd:.6g} per "
            f"call) and is at least as accurate ({all_deep.accuracy:.2%}) as any threshold: escalate "
            "everything.",
        )
    return Recommendation(
        objective="budget",
        target=budget,
        delta=None,
        met=True,
        point=point,
        bound=None,
        qualifying=int(feasible.size),
        message=f"Threshold {point.threshold:g} gives the best accuracy, {point.accuracy:.2%}, at "
        f"${point.cost_per_call_usd:.6g} per call (budget ${budget:.6g}; measured on these queries, "
        "not a guarantee).",
    )


def cheapest(result: Sweep, candidates: NDArray[np.intp]) -> int:
    """The cheapest certified threshold; among equals (same behaviour on the data) the highest, so that a
    discrete score such as 0-10 gets a threshold it can actually state."""
    order = np.lexsort((candidates, result.cost[candidates]))
    return int(candidates[order[0]])


def no_savings(
    result: Sweep,
    index: int,
    all_deep: Point,
    *,
    objective: str,
    target: float,
    delta: float,
    procedure: str = "fixed-sequence",
) -> Recommendation | None:
    """The escalate-everything answer when the best qualifying threshold costs no less than the final tier."""
    cost = float(result.cost_per_call[index])
    if cost < all_deep.cost_per_call_usd:
        return None
    return not_met(
        objective,
        target,
        delta,
        all_deep,
        f"Threshold {result.thresholds[index]:g} meets the objective but costs ${cost:.6g} per call, no less "
        f"than sending every query to the final tier (${all_deep.cost_per_call_usd:.6g}): it ships too few "
        "answers to pay for triage. Escalate everything (send every query to the final tier).",
        procedure=procedure,
    )


def not_met(
    objective: str,
    target: float,
    delta: float | None,
    all_deep: Point,
    message: str,
    *,
    procedure: str = "fixed-sequence",
) -> Recommendation:
    return Recommendation(
        objective=objective,
        target=target,
        delta=delta,
        met=False,
        point=all_deep,
        bound=None,
        qualifying=0,
        message=message,
        procedure=procedure,
    )


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"
