"""How well a confidence signal ranks and states correctness: AUROC with DeLong intervals, and ECE.

DeLong et al. (1988, Biometrics 44:837) give the variance of the empirical AUROC (the Mann-Whitney
statistic) from its structural components, so an interval needs no resampling and no seed; for two signals
scored on the same queries the same components give the variance of their difference, which is what
"beats the signal in force" has to clear. The point estimate equals
:func:`tiered.offline.calibration.auroc` (ties count half).

Needs the ``tiered[eval]`` extra (numpy, scipy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = ["AurocInterval", "PairedDifference", "auroc_interval", "expected_calibration_error", "paired_difference"]


@dataclass(frozen=True, slots=True)
class AurocInterval:
    """AUROC with its two-sided ``level`` DeLong interval (clipped to [0, 1]) over ``n`` queries."""

    auroc: float
    low: float
    high: float
    level: float
    n: int
    positives: int


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """``auroc(a) - auroc(b)`` on the same queries, its DeLong interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    level: float


def auroc_interval(scores: ArrayLike, labels: ArrayLike, *, level: float = 0.95) -> AurocInterval | None:
    """AUROC of ``scores`` against boolean ``labels`` with a DeLong interval; None without both classes."""
    components = _components(np.asarray(scores, dtype=np.float64)[None, :], np.asarray(labels, dtype=bool))
    if components is None:
        return None
    aucs, cov, n, positives = components
    auc, var = float(aucs[0]), float(cov[0, 0])
    half = _z(level) * math.sqrt(max(var, 0.0))
    return AurocInterval(auc, max(0.0, auc - half), min(1.0, auc + half), level, n, positives)


def paired_difference(
    scores_a: ArrayLike, scores_b: ArrayLike, labels: ArrayLike, *, level: float = 0.95
) -> PairedDifference | None:
    """DeLong's test of ``auroc(a) == auroc(b)`` for two signals on the same queries."""
    stacked = np.vstack([np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)])
    components = _components(stacked, np.asarray(labels, dtype=bool))
    if components is None:
        return None
    aucs, cov, _, _ = components
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    sd = math.sqrt(max(var, 0.0))
    half = _z(level) * sd
    p = 1.0 if sd == 0 else float(2 * stats.norm.sf(abs(diff) / sd))
    return PairedDifference(diff, diff - half, diff + half, p, level)


def expected_calibration_error(probabilities: ArrayLike, labels: ArrayLike, *, bins: int = 10) -> float:
    """ECE over ``bins`` equal-width bins of [0, 1]: the count-weighted mean |confidence - accuracy|."""
    probs = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    right = np.asarray(labels, dtype=np.float64)
    if probs.size == 0:
        raise ValueError("the expected calibration error needs at least one query")
    index = np.minimum((probs * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, weights=probs, minlength=bins) - np.bincount(index, weights=right, minlength=bins))
    return float(gap.sum() / count.sum())


def _components(
    scores: NDArray[np.float64], labels: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64], int, int] | None:
    """Per-signal AUROCs and the DeLong covariance of signals scored on the same queries (rows)."""
    if scores.shape[1] != labels.size:
        raise ValueError(f"{scores.shape[1]} scores for {labels.size} labels")
    m, n = int(labels.sum()), int((~labels).sum())
    if m == 0 or n == 0:
        return None
    pos, neg = scores[:, labels], scores[:, ~labels]
    # Midranks within each class and over both give each query's structural component (ties count half).
    rank_all = stats.rankdata(np.hstack([pos, neg]), axis=1)
    rank_pos = stats.rankdata(pos, axis=1)
    rank_neg = stats.rankdata(neg, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # P(a wrong answer scores below this right one)
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m  # P(a right answer scores above this wrong one)
    aucs = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov, m + n, m


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))
