"""The fallback recommender for ``--max-false-confident``: today's tests, with alpha recycling.

Today's procedure (:mod:`tiered.offline.recommend`, ``fixed-sequence``) walks the grid from the first
threshold that ships ``start_count(A, delta)`` queries downward and stops at its first failure. On a coarse
score (a 0-10 verbalized confidence) that first threshold is often a small top cell (the 22 answers stated at
10/10): one noisy test there ends the walk, although a lower threshold with hundreds of shipped answers would
pass easily. This module keeps the same grid, the same hypotheses and the same exact p-values, and changes
only how the level ``delta`` is spent: the *fallback procedure* (Wiens, "A fixed sequence Bonferroni
procedure for testing multiple endpoints", Pharmaceutical Statistics 2003; Wiens and Dmitrienko 2005), a
Bonferroni-based closed test that controls the family-wise error rate at ``delta`` under any dependence.

Hypotheses are ordered from the highest threshold down; hypothesis ``j`` gets an initial level ``a_j`` (the
``a_j`` sum to ``delta``) and is tested at ``a_j`` plus the level of its predecessor when that predecessor
was rejected. Two checkpoints carry all the level: ``(1 - SPARE) * delta`` at the first threshold that ships
``start_count(A, (1 - SPARE) * delta)`` queries (today's start, at a slightly smaller level), and
``SPARE * delta`` at the first that ships half the queries. When the walk from the first checkpoint gets
through, the second is tested at the full ``delta`` (as in today's walk); when it fails early on noise, the
walk resumes at the second checkpoint instead of giving up.

Every rejected hypothesis is certified together with probability at least ``1 - delta`` (the fallback
procedure's family-wise guarantee), and the cheapest certified threshold is recommended. The caveat of
today's procedure stays and is the same: where the checkpoints fall depends on the confidences (never on
correctness), see docs/backtest.md.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from tiered.offline.bounds import binomial_pvalue, clopper_pearson_upper, start_count
from tiered.offline.recommend import (
    Recommendation,
    cheapest,
    false_confident_met,
    false_confident_not_met,
    no_savings,
)
from tiered.offline.sweep import Point, Sweep

__all__ = ["FALLBACK", "FIXED_SEQUENCE", "SPARE", "fallback_levels", "recommend_fallback"]

FIXED_SEQUENCE = "fixed-sequence"
"""Today's procedure: the fixed grid, one walk from ``start_count`` down, stopping at the first failure."""

FALLBACK = "fallback"
"""This module's procedure: the same grid and tests, with the fallback procedure's alpha recycling."""

SPARE = 0.1
"""Share of ``delta`` kept for the second checkpoint (half the queries shipped). In simulations with 300
calibration rows, 0.1 keeps the loss on a continuous score small (about 2% of the savings at A = 0.2) and
recovers most of what a noisy top cell costs a 0-10 score; 0.2 and 0.3 recover more of the latter and lose
more of the former."""


def fallback_levels(shipped: NDArray[np.int64], n: int, rate: float, delta: float) -> NDArray[np.float64]:
    """The initial level of each hypothesis (grid highest threshold first); they sum to at most ``delta``.

    Depends on the shipped counts and ``n`` only (the confidences), never on correctness.
    """
    levels = np.zeros(shipped.size)
    first = start_count(rate, (1 - SPARE) * delta)
    if first is None:
        return levels
    second = max(2 * first, math.ceil(n / 2))
    for count, share in ((first, 1 - SPARE), (second, SPARE)):
        reached = np.flatnonzero(shipped >= count)
        if reached.size:
            levels[reached[0]] += share * delta
        else:
            # No threshold ships that many: the level goes to the first checkpoint (if any), which is then
            # tested at the full delta, exactly as today's walk.
            start = np.flatnonzero(shipped >= first)
            if start.size:
                levels[start[0]] += share * delta
    return levels


def _fallback_walk(pvalues: NDArray[np.float64], levels: NDArray[np.float64]) -> NDArray[np.float64]:
    """The level each hypothesis was tested at if rejected, else 0 (the fallback procedure, in grid order).

    Hypothesis ``j`` is tested at ``levels[j]`` plus the level of ``j - 1`` when ``j - 1`` was rejected. Only
    the checkpoints have a level of their own, so between two checkpoints the level is constant until the
    first failure, after which nothing is rejected before the next checkpoint.
    """
    rejected_at = np.zeros(pvalues.size)
    starts = np.flatnonzero(levels > 0.0)
    carried = 0.0
    for k, start in enumerate(starts):
        end = int(starts[k + 1]) if k + 1 < starts.size else pvalues.size
        level = float(levels[start]) + carried
        failures = np.flatnonzero(pvalues[start:end] > level)
        run = int(failures[0]) if failures.size else end - start
        rejected_at[start : start + run] = level
        carried = level if run == end - start else 0.0
    return rejected_at


def recommend_fallback(result: Sweep, rate: float, *, delta: float, all_deep: Point) -> Recommendation:
    """Recommend a threshold of ``result``'s grid keeping the false-confident rate at most ``rate`` (see the
    module docstring); ``all_deep`` is the fall-back."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    pvalues = binomial_pvalue(result.shipped_wrong, result.shipped, rate)
    rejected_at = _fallback_walk(pvalues, fallback_levels(result.shipped, result.n, rate, delta))
    certified = np.flatnonzero(rejected_at > 0.0)
    if certified.size == 0:
        return false_confident_not_met(result, rate, delta, all_deep, FALLBACK)
    index = cheapest(result, certified)
    refusal = no_savings(
        result, index, all_deep, objective="max_false_confident", target=rate, delta=delta, procedure=FALLBACK
    )
    if refusal is not None:
        return refusal
    level = float(rejected_at[index])
    upper = float(clopper_pearson_upper(result.shipped_wrong[index], result.shipped[index], level))
    return false_confident_met(
        result,
        index,
        rate,
        delta,
        upper,
        qualifying=int(certified.size),
        method="exact binomial test on the shipped queries, fallback "
        f"procedure from the highest threshold ({1 - SPARE:g} of delta where start_count is reached, "
        f"{SPARE:g} where half the queries ship); value is the Clopper-Pearson upper bound at the level "
        f"{level:.3g} the recommended threshold was certified at",
        procedure=FALLBACK,
    )
