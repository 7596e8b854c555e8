"""The exact binomial math, checked against scipy.stats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tiered.offline.bounds import (
    binomial_pvalue,
    clopper_pearson_lower,
    clopper_pearson_upper,
    leading_run,
    min_trials,
    start_count,
)

CASES = [(0, 1), (0, 30), (1, 30), (3, 10), (10, 10), (7, 200), (150, 1000), (0, 5000), (49, 5000)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("rate", [0.01, 0.1, 0.35])
def test_pvalue_matches_binomtest(k: int, n: int, rate: float) -> None:
    want = stats.binomtest(k, n, rate, alternative="less").pvalue
    assert float(binomial_pvalue(k, n, rate)) == pytest.approx(want, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("delta", [0.01, 0.05, 0.2])
def test_clopper_pearson_matches_beta_ppf_and_binomtest(k: int, n: int, delta: float) -> None:
    upper = float(clopper_pearson_upper(k, n, delta))
    lower = float(clopper_pearson_lower(k, n, delta))
    want_upper = 1.0 if k == n else stats.beta.ppf(1 - delta, k + 1, n - k)
    want_lower = 0.0 if k == 0 else stats.beta.ppf(delta, k, n - k + 1)
    assert upper == pytest.approx(want_upper, rel=1e-9)
    assert lower == pytest.approx(want_lower, rel=1e-9, abs=1e-15)
    # binomtest's exact two-sided interval at 1 - 2 delta is the pair of one-sided bounds at delta.
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * delta, method="exact")
    assert upper == pytest.approx(ci.high, rel=1e-7)
    assert lower == pytest.approx(ci.low, rel=1e-7, abs=1e-12)


def test_test_and_bound_agree() -> None:
    """Rejecting H0: rate > A at level delta is the same as the upper bound being at most A."""
    rng = np.random.default_rng(0)
    n = rng.integers(1, 400, size=2000)
    k = rng.binomial(n, rng.uniform(0, 0.4, size=n.size))
    for rate, delta in [(0.1, 0.05), (0.2, 0.1), (0.05, 0.01)]:
        rejected = binomial_pvalue(k, n, rate) <= delta
        bounded = clopper_pearson_upper(k, n, delta) <= rate
        # Allow for float ties right at the boundary.
        assert np.mean(rejected == bounded) > 0.999


def test_no_trials() -> None:
    assert float(binomial_pvalue(0, 0, 0.1)) == 1.0
    assert float(clopper_pearson_upper(0, 0, 0.05)) == 1.0
    assert float(clopper_pearson_lower(0, 0, 0.05)) == 0.0


def test_leading_run() -> None:
    assert leading_run(np.array([True, True, False, True])) == 2
    assert leading_run(np.array([False, True])) == 0
    assert leading_run(np.array([True, True])) == 2
    assert leading_run(np.array([], dtype=bool)) == 0


@pytest.mark.parametrize(("rate", "delta"), [(0.1, 0.05), (0.05, 0.1), (0.3, 0.2), (0.01, 0.05)])
def test_min_trials_and_start_count(rate: float, delta: float) -> None:
    m = min_trials(rate, delta)
    assert m is not None
    assert float(binomial_pvalue(0, m, rate)) <= delta < float(binomial_pvalue(0, m - 1, rate))
    start = start_count(rate, delta)
    assert start is not None and start >= m

    # At the start count a true rate of rate/2 passes at least half the time; one fewer, less than half.
    def pass_probability(trials: int) -> float:
        k = np.arange(trials + 1)
        passing = k[binomial_pvalue(k, np.full(k.size, trials), rate) <= delta]
        return float(stats.binom.cdf(passing.max(), trials, rate / 2)) if passing.size else 0.0

    assert pass_probability(start) >= 0.5
    assert pass_probability(start - 1) < 0.5
    assert min_trials(0.0, delta) is None and start_count(0.0, delta) is None
