"""Synthetic cascades with known population rates, for the offline tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.offline.outcomes import Outcomes, outcomes_from_columns

# Continuous model: confidence X ~ U(0, 1); P(cheap right | x) = A0 + A1 * x; deep right w.p. DEEP_ACC,
# independently. Closed forms below.
A0, A1, DEEP_ACC = 0.3, 0.7, 0.9
CHEAP_COST, DEEP_COST = 0.001, 0.01


def true_fcr(t: float) -> float:
    """Population P(cheap wrong | X >= t) for the continuous model."""
    return 1.0 - (A0 + A1 * (1.0 + t) / 2.0)


def true_quality_loss(t: float) -> float:
    """Population E[deep right - cascade right] for the continuous model."""
    u = 1.0 - t
    return (DEEP_ACC - A0) * u - A1 * (1.0 - t * t) / 2.0


def continuous_columns(n: int, rng: np.random.Generator) -> dict[str, Any]:
    x = rng.uniform(size=n)
    return {
        "id": [str(i) for i in range(n)],
        "confidence": x,
        "cheap_correct": rng.uniform(size=n) < A0 + A1 * x,
        "deep_correct": rng.uniform(size=n) < DEEP_ACC,
        "cheap_cost_usd": np.full(n, CHEAP_COST),
        "deep_cost_usd": np.full(n, DEEP_COST),
    }


def continuous(n: int, seed: int) -> Outcomes:
    return outcomes_from_columns(continuous_columns(n, np.random.default_rng(seed)), source="synthetic")


# Discrete model on a 0-10 score, like verbalized confidence: mass and accuracy per score.
SCORES = np.arange(11, dtype=np.float64)
SCORE_MASS = np.array([1, 1, 1, 2, 2, 4, 6, 10, 25, 30, 18], dtype=np.float64)
SCORE_MASS /= SCORE_MASS.sum()
SCORE_ACC = np.array([0.2, 0.2, 0.25, 0.3, 0.35, 0.45, 0.6, 0.75, 0.85, 0.9, 0.935])


def discrete_true_fcr(t: float) -> float:
    ship = t <= SCORES
    return float((SCORE_MASS[ship] * (1 - SCORE_ACC[ship])).sum() / SCORE_MASS[ship].sum())


def discrete(n: int, rng: np.random.Generator) -> Outcomes:
    scores = rng.choice(SCORES, size=n, p=SCORE_MASS)
    acc = SCORE_ACC[scores.astype(int)]
    return outcomes_from_columns(
        {
            "confidence": scores,
            "cheap_correct": rng.uniform(size=n) < acc,
            "deep_correct": rng.uniform(size=n) < DEEP_ACC,
            "cheap_cost_usd": np.full(n, CHEAP_COST),
            "deep_cost_usd": np.full(n, DEEP_COST),
        },
        source="synthetic-discrete",
    )


def random_cascade(n: int, tiers: int, rng: np.random.Generator, *, missing: float = 0.1) -> Outcomes:
    """Random n-tier outcomes on a coarse score (many ties) with some missing confidences."""
    cols: dict[str, Any] = {"id": [f"q{i}" for i in range(n)]}
    for i in range(tiers):
        if i < tiers - 1:
            conf: NDArray[Any] = rng.integers(0, 11, size=n) / 10
            cols[f"confidence_{i}"] = [None if rng.uniform() < missing else float(c) for c in conf]
        cols[f"correct_{i}"] = rng.uniform(size=n) < 0.4 + 0.15 * i
        cols[f"cost_usd_{i}"] = rng.uniform(0.001, 0.01, size=n) * (i + 1)
    cols["group"] = rng.choice(["a", "b", "c"], size=n)
    return outcomes_from_columns(cols, source="random")


# Badly calibrated top: above TOP the cheap tier is right only TOP_ACC of the time, so the highest thresholds
# are unsafe while the middle of the range is safe; the walk has to start below the top.
TOP, TOP_ACC = 0.995, 0.5
_X = np.linspace(0.0, 1.0, 200_001)


def bad_top_accuracy(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(x >= TOP, TOP_ACC, A0 + A1 * x)


def bad_top_true_fcr(t: float) -> float:
    mask = t <= _X
    return float(1.0 - bad_top_accuracy(_X[mask]).mean())


def bad_top(n: int, rng: np.random.Generator) -> Outcomes:
    x = rng.uniform(size=n)
    return outcomes_from_columns(
        {
            "confidence": x,
            "cheap_correct": rng.uniform(size=n) < bad_top_accuracy(x),
            "deep_correct": rng.uniform(size=n) < DEEP_ACC,
            "cheap_cost_usd": np.full(n, CHEAP_COST),
            "deep_cost_usd": np.full(n, DEEP_COST),
        },
        source="synthetic-bad-top",
    )
