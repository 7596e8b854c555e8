"""Exact binomial p-values, Clopper-Pearson bounds and fixed-sequence testing, vectorised over a grid.

Fixed-sequence testing (Learn-then-Test, Angelopoulos et al. 2021, arXiv:2110.01052): order the candidate
thresholds in advance, test each at level ``delta``, and stop at the first that fails. Every threshold
rejected before the stop is certified together with probability at least ``1 - delta``, however many were
tried, because a false certification needs the first true null hypothesis of the fixed order to be
rejected, which happens with probability at most ``delta``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "binomial_pvalue",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "leading_run",
    "min_trials",
    "start_count",
]


def binomial_pvalue(successes: ArrayLike, trials: ArrayLike, rate: float) -> NDArray[np.float64]:
    """P(Binomial(trials, rate) <= successes): the exact p-value of ``H0: true rate > rate``.

    Small values say the observed count is too low for a rate above ``rate``. With no trials the p-value
    is 1 (nothing was observed).
    """
    k = np.asarray(successes, dtype=np.int64)
    n = np.asarray(trials, dtype=np.int64)
    return np.asarray(np.where(n > 0, special.bdtr(k, n, rate), 1.0), dtype=np.float64)


def min_trials(rate: float, delta: float) -> int | None:
    """The fewest trials at which ``binomial_pvalue(0, trials, rate) <= delta``: with fewer, no outcome can
    reject ``H0: true rate > rate``. None when no number of trials can (``rate`` is 0)."""
    if rate <= 0.0:
        return None
    if rate >= 1.0:
        return 1
    return max(1, math.ceil(math.log(delta) / math.log1p(-rate) - 1e-9))


def start_count(rate: float, delta: float) -> int | None:
    """The fewest trials at which a true rate of ``rate / 2`` passes the level-``delta`` test of
    ``H0: true rate > rate`` at least half the time.

    A fixed-sequence walk that began where fewer queries ship would mostly stop at once on noise; the walk
    starts at the first threshold that ships this many. None when ``rate`` is 0 (nothing can pass).
    """
    smallest = min_trials(rate, delta)
    if smallest is None:
        return None
    m = np.arange(smallest, 50 * smallest + 10, dtype=np.int64)
    critical = stats.binom.ppf(delta, m, rate).astype(np.int64)
    critical = np.where(special.bdtr(critical, m, rate) <= delta, critical, critical - 1)
    passes = (critical >= 0) & (special.bdtr(np.maximum(critical, 0), m, rate / 2) >= 0.5)
    return int(m[np.argmax(passes)]) if passes.any() else int(m[-1])


def clopper_pearson_upper(successes: ArrayLike, trials: ArrayLike, delta: float) -> NDArray[np.float64]:
    """The one-sided ``1 - delta`` upper confidence bound on a binomial rate (1 with no trials)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    full = k >= n
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = special.betaincinv(k + 1, np.where(full, 1.0, n - k), 1.0 - delta)
    return np.asarray(np.where(full, 1.0, bound), dtype=np.float64)


def clopper_pearson_lower(successes: ArrayLike, trials: ArrayLike, delta: float) -> NDArray[np.float64]:
    """The one-sided ``1 - delta`` lower confidence bound on a binomial rate (0 with no successes)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    none = k <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = special.betaincinv(np.where(none, 1.0, k), n - k + 1, delta)
    return np.asarray(np.where(none, 0.0, bound), dtype=np.float64)


def leading_run(passed: NDArray[np.bool_]) -> int:
    """How many tests pass before the first failure: the fixed-sequence procedure's rejections."""
    failures = np.flatnonzero(~passed)
    return int(failures[0]) if failures.size else int(passed.size)
