"""One-sided confidence bounds and binomial tails on a rate, in pure Python (no numpy or scipy at run time).

One convention across tiered (here and in :mod:`tiered.offline.bounds`, its vectorised twin):
``bound(successes, trials, delta)`` holds with probability at least ``1 - delta``; ``successes`` counts the
events whose rate is bounded (here: wrong answers).

* :func:`clopper_pearson_upper` is exact for a binomial count: the ``1 - delta`` quantile of
  ``Beta(successes + 1, trials - successes)``; :func:`clopper_pearson_lower` the ``delta`` quantile of
  ``Beta(successes, trials - successes + 1)``. Counts may be fractional (weighted samples, see
  :func:`effective_counts`): the beta quantile is defined for any positive parameters.
* :func:`binomial_tail_at_least` and :func:`binomial_tail_at_most` are the exact p-values of the one-sided
  tests behind those bounds (one incomplete-beta evaluation each: cheap enough to run on every look).
* :func:`wilson_upper` is the Wilson score bound: narrower with few samples, approximate.

The regularized incomplete beta function is evaluated with its continued fraction (modified Lentz), and
inverted by bisection: slow next to scipy, but a bound is computed a few times a minute, not per request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

__all__ = [
    "betainc",
    "betaincinv",
    "binomial_tail_at_least",
    "binomial_tail_at_most",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "effective_counts",
    "wilson_upper",
]

_EPS = 1e-15
_TINY = 1e-300
_MAX_TERMS = 10_000


def _continued_fraction(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = _TINY if abs(d) < _TINY else d
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc: a and b must be positive, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    # The continued fraction converges fast on this side of the mean; use the symmetry on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1.0 - x) / b


def betaincinv(a: float, b: float, p: float) -> float:
    """The ``x`` with ``I_x(a, b) = p`` (the ``p`` quantile of ``Beta(a, b)``), to about 1e-13."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"betaincinv: p must be in [0, 1], got {p}")
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if betainc(a, b, mid) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-14:
            break
    return (low + high) / 2.0


def _check(successes: float, trials: float, delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be between 0 and 1, got {delta}")
    if trials < 0 or successes < 0 or successes > trials + 1e-9:
        raise ValueError(f"need 0 <= successes <= trials, got successes={successes}, trials={trials}")


def clopper_pearson_upper(successes: float, trials: float, delta: float) -> float:
    """The one-sided ``1 - delta`` upper bound on the rate behind ``successes`` of ``trials``; 1 when nothing
    was seen."""
    _check(successes, trials, delta)
    if trials <= 0 or successes >= trials:
        return 1.0
    return betaincinv(successes + 1.0, trials - successes, 1.0 - delta)


def clopper_pearson_lower(successes: float, trials: float, delta: float) -> float:
    """The one-sided ``1 - delta`` lower bound on the rate behind ``successes`` of ``trials``; 0 with none."""
    _check(successes, trials, delta)
    if successes <= 0:
        return 0.0
    return betaincinv(successes, trials - successes + 1.0, delta)


def binomial_tail_at_least(successes: float, trials: float, rate: float) -> float:
    """``P(Binomial(trials, rate) >= successes)``: the exact p-value of ``H0: true rate <= rate``.
    ``clopper_pearson_lower(successes, trials, delta) > rate`` exactly when this is below ``delta``."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    return betainc(successes, trials - successes + 1.0, rate)


def binomial_tail_at_most(successes: float, trials: float, rate: float) -> float:
    """``P(Binomial(trials, rate) <= successes)``: the exact p-value of ``H0: true rate >= rate``.
    ``clopper_pearson_upper(successes, trials, delta) < rate`` exactly when this is below ``delta``."""
    if successes >= trials:
        return 1.0
    return 1.0 - betainc(successes + 1.0, trials - successes, rate)


def wilson_upper(successes: float, trials: float, delta: float) -> float:
    """The one-sided ``1 - delta`` Wilson score upper bound; 1 when nothing was seen."""
    _check(successes, trials, delta)
    if trials <= 0:
        return 1.0
    z = NormalDist().inv_cdf(1.0 - delta)
    p = min(1.0, successes / trials)
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(max(0.0, p * (1 - p) / trials + z2 / (4 * trials * trials)))
    return min(1.0, (centre + spread) / (1 + z2 / trials))


def effective_counts(samples: Iterable[tuple[float, bool]]) -> tuple[float, float, float]:
    """``(rate, effective_wrong, effective_n)`` from ``(weight, wrong)`` pairs.

    The rate is the weighted (Hajek) estimate ``sum(w * wrong) / sum(w)``; the effective sample size is
    Kish's ``sum(w) ** 2 / sum(w ** 2)``, so a bound computed on ``(rate * n_eff, n_eff)`` widens as the
    weights grow unequal. With equal weights this is exactly ``(wrong / n, wrong, n)``.
    """
    total = squares = bad = 0.0
    for weight, wrong in samples:
        if weight <= 0:
            raise ValueError(f"weights must be positive, got {weight}")
        total += weight
        squares += weight * weight
        if wrong:
            bad += weight
    if total <= 0:
        return 0.0, 0.0, 0.0
    rate = bad / total
    n_eff = total * total / squares
    return rate, rate * n_eff, n_eff
