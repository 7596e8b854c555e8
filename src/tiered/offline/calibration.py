"""How well a tier's confidence predicts its correctness, and an isotonic map that fixes its calibration.

Confidences are put on [0, 1] by their scale (a 0-10 score of 8 reads as 0.8) for the expected calibration
error, the Brier score and the reliability diagram; AUROC only needs the order. Queries without a
confidence are left out and counted. With at most ``bins`` distinct scores each score is its own bin;
otherwise the bins are equal-width over the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from tiered.offline.calibration_map import Calibration
from tiered.offline.outcomes import Outcomes

__all__ = [
    "CalibrationReport",
    "ReliabilityBin",
    "apply_calibration",
    "auroc",
    "calibration_report",
    "fit_isotonic",
    "reliability",
]


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One bin of the reliability diagram: scores in ``[lo, hi]`` on the raw scale."""

    lo: float
    hi: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """Calibration of tier ``tier``'s confidence, over the ``n`` queries that have one."""

    tier: int
    n: int
    missing: int
    scale: tuple[float, float]
    auroc: float | None
    ece: float
    brier: float
    mean_confidence: float
    accuracy: float
    bins: tuple[ReliabilityBin, ...]
    fitted: Calibration


def auroc(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> float | None:
    """P(score of a right answer > score of a wrong one), ties counting half; None without both kinds."""
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def reliability(
    scores: NDArray[np.float64], labels: NDArray[np.bool_], scale: tuple[float, float], bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """Reliability bins (empty bins dropped); ``mean_confidence`` is on [0, 1]."""
    lo, hi = scale
    probs = _to_unit(scores, scale)
    distinct = np.unique(scores)
    if distinct.size <= bins:
        index = np.searchsorted(distinct, scores)
        edges_lo, edges_hi = distinct, distinct
    else:
        edges = np.linspace(lo, hi, bins + 1)
        index = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, bins - 1)
        edges_lo, edges_hi = edges[:-1], edges[1:]
    count = np.bincount(index, minlength=edges_lo.size)
    conf_sum = np.bincount(index, weights=probs, minlength=edges_lo.size)
    right = np.bincount(index, weights=labels.astype(np.float64), minlength=edges_lo.size)
    return tuple(
        ReliabilityBin(
            lo=float(edges_lo[b]),
            hi=float(edges_hi[b]),
            count=int(count[b]),
            mean_confidence=float(conf_sum[b] / count[b]),
            accuracy=float(right[b] / count[b]),
        )
        for b in range(edges_lo.size)
        if count[b] > 0
    )


def fit_isotonic(
    scores: NDArray[np.float64],
    labels: NDArray[np.bool_],
    *,
    source: str | None = None,
    model: str | None = None,
    tier: int = 0,
    scale: tuple[float, float] | None = None,
) -> Calibration:
    """The isotonic (non-decreasing) map from score to P(right), with as few knots as reproduce it."""
    if scores.size == 0:
        raise ValueError("cannot fit a calibration map without scored queries")
    distinct, inverse = np.unique(scores, return_inverse=True)
    weights = np.bincount(inverse).astype(np.float64)
    rate = np.bincount(inverse, weights=labels.astype(np.float64)) / weights
    fitted = np.asarray(optimize.isotonic_regression(rate, weights=weights).x, dtype=np.float64)
    # Interior points of a flat run add nothing to the piecewise-linear map: keep each run's two ends.
    keep = np.ones(distinct.size, dtype=bool)
    if distinct.size > 2:
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibration(
        x=tuple(float(v) for v in distinct[keep]),
        y=tuple(float(min(max(v, 0.0), 1.0)) for v in fitted[keep]),
        method="isotonic",
        source=source,
        n=int(scores.size),
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=model,
        tier=tier,
        scale=scale,
    )


def apply_calibration(outcomes: Outcomes, calibration: Calibration) -> Outcomes:
    """``outcomes`` with tier ``calibration.tier``'s confidence replaced by the calibrated probability.

    Vectorised twin of :meth:`Calibration.__call__` (``np.interp`` is flat beyond the end knots, as it is).
    """
    tier = calibration.tier
    if not 0 <= tier < outcomes.tiers - 1:
        raise ValueError(
            f"the calibration map is for tier {tier}, but these outcomes have confidences for tiers "
            f"0..{outcomes.tiers - 2}"
        )
    conf = outcomes.confidence.copy()
    has = outcomes.has_confidence[:, tier]
    conf[has, tier] = np.interp(conf[has, tier], np.asarray(calibration.x), np.asarray(calibration.y))
    return Outcomes(
        confidence=conf,
        has_confidence=outcomes.has_confidence,
        correct=outcomes.correct,
        cost=outcomes.cost,
        plain_cost=outcomes.plain_cost,
        ids=outcomes.ids,
        groups=outcomes.groups,
        form=outcomes.form,
        source=outcomes.source,
    )


def calibration_report(
    outcomes: Outcomes,
    scale: tuple[float, float],
    *,
    tier: int = 0,
    bins: int = 10,
    model: str | None = None,
) -> CalibrationReport | None:
    """Calibration of tier ``tier``; None when no query has a confidence for it."""
    has = outcomes.has_confidence[:, tier]
    scores = outcomes.confidence[has, tier]
    labels = outcomes.correct[has, tier]
    if scores.size == 0:
        return None
    table = reliability(scores, labels, scale, bins)
    probs = _to_unit(scores, scale)
    ece = sum(b.count * abs(b.mean_confidence - b.accuracy) for b in table) / scores.size
    return CalibrationReport(
        tier=tier,
        n=int(scores.size),
        missing=int((~has).sum()),
        scale=scale,
        auroc=auroc(scores, labels),
        ece=float(ece),
        brier=float(np.mean((probs - labels) ** 2)),
        mean_confidence=float(probs.mean()),
        accuracy=float(labels.mean()),
        bins=table,
        fitted=fit_isotonic(scores, labels, source=outcomes.source, model=model, tier=tier, scale=scale),
    )


def _to_unit(scores: NDArray[np.float64], scale: tuple[float, float]) -> NDArray[np.float64]:
    lo, hi = scale
    span = hi - lo if hi > lo and math.isfinite(hi - lo) else 1.0
    return np.asarray(np.clip((scores - lo) / span, 0.0, 1.0), dtype=np.float64)
