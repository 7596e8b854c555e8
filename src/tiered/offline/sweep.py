"""The backtest itself: replay recorded outcomes through the cascade at every threshold of a grid.

One shared threshold ``t`` applies to every non-final tier: tier ``i`` ships when ``confidence_i >= t``. A
query is therefore answered by the first tier whose confidence reaches ``t``, or by the final tier. With the
running maximum ``m_i = max(confidence_0..confidence_i)``, the answering tier is the number of ``i < k`` with
``m_i < t``, so any per-query quantity ``f(answering tier)`` telescopes into

    sum f(k) + sum_i  sum_{queries with m_i >= t}  (f(i) - f(i + 1))

and each inner sum is a suffix sum over the queries sorted by ``m_i``: one sort per tier and a
``searchsorted`` give every threshold of the grid at once, in ``O(k n log n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tiered.offline.outcomes import Outcomes

__all__ = [
    "SEED_THRESHOLD",
    "Point",
    "Sweep",
    "default_grid",
    "evaluate",
    "infer_scale",
    "references",
    "sweep",
]

SEED_THRESHOLD = 0.8
"""The seed's fixed threshold, as a fraction of the score's scale (0.8 on [0, 1], 8 on [0, 10])."""

# Rows of the stacked per-query quantities that the sweep sums.
_CORRECT, _COST, _SHIPPED, _WRONG, _LOSS_POS, _LOSS_NEG = range(6)


@dataclass(frozen=True, slots=True)
class Point:
    """The cascade's results at one threshold (or a reference policy when ``threshold`` is ``None``).

    ``false_confident_rate`` is wrong among shipped (answered by a non-final tier): ``None`` when nothing
    ships. ``quality_vs_deep`` is accuracy minus the final tier's accuracy (negative: a loss).
    """

    label: str
    threshold: float | None
    n: int
    escalation_rate: float
    accuracy: float
    false_confident_rate: float | None
    cost_per_call_usd: float
    savings_vs_deep: float | None
    quality_vs_deep: float
    shipped: int
    shipped_wrong: int
    tier_shares: tuple[float, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Sweep:
    """Counts at each threshold of a grid, highest threshold first.

    ``loss_pos`` counts queries the final tier got right and the cascade wrong; ``loss_neg`` the reverse:
    the quality loss against the final tier is ``(loss_pos - loss_neg) / n``.
    """

    thresholds: NDArray[np.float64]
    n: int
    correct: NDArray[np.float64]
    cost: NDArray[np.float64]
    shipped: NDArray[np.int64]
    shipped_wrong: NDArray[np.int64]
    loss_pos: NDArray[np.int64]
    loss_neg: NDArray[np.int64]
    tier_answers: NDArray[np.int64]
    final_correct: int
    final_cost: float

    @property
    def accuracy(self) -> NDArray[np.float64]:
        return self.correct / self.n

    @property
    def escalation_rate(self) -> NDArray[np.float64]:
        return 1.0 - self.tier_answers[:, 0] / self.n

    @property
    def false_confident_rate(self) -> NDArray[np.float64]:
        """Wrong among shipped; NaN where nothing ships."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.shipped > 0, self.shipped_wrong / np.maximum(self.shipped, 1), np.nan)

    @property
    def cost_per_call(self) -> NDArray[np.float64]:
        return self.cost / self.n

    @property
    def savings_vs_deep(self) -> NDArray[np.float64]:
        if self.final_cost <= 0:
            return np.full(self.thresholds.shape, np.nan)
        return 1.0 - self.cost / self.final_cost

    @property
    def quality_vs_deep(self) -> NDArray[np.float64]:
        return (self.correct - self.final_correct) / self.n

    def point(self, index: int, label: str = "") -> Point:
        fcr = self.false_confident_rate[index]
        savings = self.savings_vs_deep[index]
        return Point(
            label=label or f"t={self.thresholds[index]:g}",
            threshold=float(self.thresholds[index]),
            n=self.n,
            escalation_rate=float(self.escalation_rate[index]),
            accuracy=float(self.accuracy[index]),
            false_confident_rate=None if math.isnan(fcr) else float(fcr),
            cost_per_call_usd=float(self.cost_per_call[index]),
            savings_vs_deep=None if math.isnan(savings) else float(savings),
            quality_vs_deep=float(self.quality_vs_deep[index]),
            shipped=int(self.shipped[index]),
            shipped_wrong=int(self.shipped_wrong[index]),
            tier_shares=tuple(float(v) for v in self.tier_answers[index] / self.n),
        )


def infer_scale(outcomes: Outcomes) -> tuple[float, float]:
    """The scale the confidences are on: [0, 1], [0, 10] or [0, 100] when they fit, else their range.

    Only the unit is read from the data, never correctness, so a grid built on it is fixed in advance for
    the purpose of the statistical guarantee.
    """
    values = outcomes.confidence[outcomes.has_confidence]
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = float(values.min()), float(values.max())
    if lo >= 0:
        for top in (1.0, 10.0, 100.0):
            if hi <= top:
                return (0.0, top)
    lo, hi = math.floor(lo), math.ceil(hi)
    return (float(lo), float(hi if hi > lo else lo + 1))


def default_grid(scale: tuple[float, float], steps: int = 101) -> NDArray[np.float64]:
    """``steps`` evenly spaced thresholds over ``scale``, highest first."""
    lo, hi = scale
    return np.round(np.linspace(hi, lo, max(steps, 2)), 10)


def sweep(outcomes: Outcomes, thresholds: NDArray[np.float64]) -> Sweep:
    """Replay ``outcomes`` at every threshold; the result lists thresholds highest first."""
    grid = np.unique(np.asarray(thresholds, dtype=np.float64))[::-1].copy()
    if grid.size == 0 or not np.isfinite(grid).all():
        # A threshold of -inf would ship the queries without a confidence.
        raise ValueError("thresholds must be finite numbers (and at least one)")
    n, tiers = outcomes.n, outcomes.tiers
    k = tiers - 1
    correct = outcomes.correct
    final = correct[:, k]
    cumcost = np.cumsum(outcomes.cost, axis=1)
    running_max = np.maximum.accumulate(outcomes.confidence, axis=1)

    # Totals when every query reaches the final tier, then one correction per non-final tier.
    totals = np.zeros((6, grid.size))
    totals[_CORRECT] = final.sum()
    totals[_COST] = cumcost[:, k].sum()
    tier_answers = np.zeros((grid.size, tiers), dtype=np.int64)
    reached = np.zeros((tiers, grid.size), dtype=np.int64)  # queries answered by tier <= i
    for i in range(k):
        c_i, c_next = correct[:, i], correct[:, i + 1]
        shipped_next = i + 1 < k
        deltas = np.empty((6, n))
        deltas[_CORRECT] = c_i.astype(np.float64) - c_next
        deltas[_COST] = -outcomes.cost[:, i + 1]
        deltas[_SHIPPED] = 0.0 if shipped_next else 1.0
        deltas[_WRONG] = (~c_i).astype(np.float64) - ((~c_next) if shipped_next else 0.0)
        deltas[_LOSS_POS] = (final & ~c_i).astype(np.float64) - (final & ~c_next)
        deltas[_LOSS_NEG] = (~final & c_i).astype(np.float64) - (~final & c_next)
        order = np.argsort(running_max[:, i], kind="stable")
        sorted_max = running_max[order, i]
        prefix = np.zeros((6, n + 1))
        np.cumsum(deltas[:, order], axis=1, out=prefix[:, 1:])
        below = np.searchsorted(sorted_max, grid, side="left")
        totals += prefix[:, -1:] - prefix[:, below]
        reached[i] = n - below
    for i in range(tiers):
        tier_answers[:, i] = reached[i] - (reached[i - 1] if i > 0 else 0) if i < k else n - reached[k - 1]
    counts = np.rint(totals).astype(np.int64)
    return Sweep(
        thresholds=grid,
        n=n,
        correct=totals[_CORRECT],
        cost=totals[_COST],
        shipped=counts[_SHIPPED],
        shipped_wrong=counts[_WRONG],
        loss_pos=counts[_LOSS_POS],
        loss_neg=counts[_LOSS_NEG],
        tier_answers=tier_answers,
        final_correct=int(final.sum()),
        final_cost=float(outcomes.cost[:, k].sum()),
    )


def evaluate(outcomes: Outcomes, threshold: float, label: str = "") -> Point:
    """The cascade's results at one threshold, replayed directly (for slices and spot checks)."""
    if not math.isfinite(threshold):
        raise ValueError("the threshold must be a finite number")
    n, k = outcomes.n, outcomes.tiers - 1
    rows = np.arange(n)
    answered_by = np.count_nonzero(np.maximum.accumulate(outcomes.confidence, axis=1) < threshold, axis=1)
    right = outcomes.correct[rows, answered_by]
    shipped = answered_by < k
    final = outcomes.correct[:, k]
    final_cost = float(outcomes.cost[:, k].sum())
    cost = float(np.cumsum(outcomes.cost, axis=1)[rows, answered_by].sum())
    n_shipped = int(shipped.sum())
    wrong = int((shipped & ~right).sum())
    return Point(
        label=label or f"t={threshold:g}",
        threshold=float(threshold),
        n=n,
        escalation_rate=float(np.mean(answered_by > 0)),
        accuracy=float(right.mean()),
        false_confident_rate=wrong / n_shipped if n_shipped else None,
        cost_per_call_usd=cost / n,
        savings_vs_deep=1.0 - cost / final_cost if final_cost > 0 else None,
        quality_vs_deep=float(right.mean() - final.mean()),
        shipped=n_shipped,
        shipped_wrong=wrong,
        tier_shares=tuple(float(v) for v in np.bincount(answered_by, minlength=k + 1) / n),
    )


def references(outcomes: Outcomes) -> tuple[Point, Point, Point]:
    """The all-cheap (tier 0 alone), all-deep (final tier alone) and oracle reference points.

    The oracle is the cascade with a perfect triage: each query ships at the first tier that answers it
    correctly, and reaches the final tier only when no earlier tier is right.
    """
    n, k = outcomes.n, outcomes.tiers - 1
    correct = outcomes.correct
    final_acc = float(correct[:, k].mean())
    final_cost = float(outcomes.cost[:, k].sum())
    tiers = outcomes.tiers

    def point(label: str, acc: float, cost: float, *, shipped: int, wrong: int, shares: list[float]) -> Point:
        return Point(
            label=label,
            threshold=None,
            n=n,
            escalation_rate=1.0 - shares[0],
            accuracy=acc,
            false_confident_rate=wrong / shipped if shipped else None,
            cost_per_call_usd=cost / n,
            savings_vs_deep=1.0 - cost / final_cost if final_cost > 0 else None,
            quality_vs_deep=acc - final_acc,
            shipped=shipped,
            shipped_wrong=wrong,
            tier_shares=tuple(shares),
        )

    cheap_right = int(correct[:, 0].sum())
    cheap = point(
        "all-cheap",
        cheap_right / n,
        float(outcomes.plain_cost.sum()),
        shipped=n,
        wrong=n - cheap_right,
        shares=[1.0] + [0.0] * k,
    )
    deep = point("all-deep", final_acc, final_cost, shipped=0, wrong=0, shares=[0.0] * k + [1.0])
    any_right = correct[:, :k].any(axis=1)
    exit_tier = np.where(any_right, np.argmax(correct[:, :k], axis=1), k)
    oracle_cost = float(np.take_along_axis(np.cumsum(outcomes.cost, axis=1), exit_tier[:, None], 1).sum())
    shares = np.bincount(exit_tier, minlength=tiers) / n
    oracle = point(
        "oracle",
        float((any_right | correct[:, k]).mean()),
        oracle_cost,
        shipped=int(any_right.sum()),
        wrong=0,
        shares=[float(v) for v in shares],
    )
    return cheap, deep, oracle
