"""The pure-Python bounds match scipy on a grid of cases, integer and weighted (fractional) counts."""

from __future__ import annotations

import math

import pytest
from scipy import special, stats

from tiered.quality.bounds import (
    betainc,
    betaincinv,
    binomial_tail_at_least,
    binomial_tail_at_most,
    clopper_pearson_lower,
    clopper_pearson_upper,
    effective_counts,
    wilson_upper,
)
from tiered.quality.stats import upper_bound

LEVELS = (0.8, 0.9, 0.95, 0.99)
GRID = [
    (k, n) for n in (1, 2, 5, 10, 30, 59, 100, 500, 2000) for k in sorted({0, 1, 2, n // 20, n // 4, n - 1}) if k <= n
]


@pytest.mark.parametrize("level", LEVELS)
def test_clopper_pearson_matches_scipy(level: float) -> None:
    for k, n in GRID:
        if k >= n:
            continue
        ours = clopper_pearson_upper(k, n, 1 - level)
        ref = float(stats.beta.ppf(level, k + 1, n - k))
        assert ours == pytest.approx(ref, abs=1e-9), (k, n, level)
        # the defining property: observing k or fewer is (1 - level)-unlikely at the bound
        assert float(stats.binom.cdf(k, n, ours)) == pytest.approx(1 - level, abs=1e-7)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson_upper(0, 0, 0.05) == 1.0
    assert clopper_pearson_upper(5, 5, 0.05) == 1.0
    # rule of three territory: 0 of n gives 1 - delta ** (1 / n)
    assert clopper_pearson_upper(0, 59, 0.05) == pytest.approx(1 - 0.05 ** (1 / 59), abs=1e-12)
    with pytest.raises(ValueError, match="successes <= trials"):
        clopper_pearson_upper(3, 2, 0.05)
    with pytest.raises(ValueError, match="delta"):
        clopper_pearson_upper(1, 2, 0.0)
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0


@pytest.mark.parametrize("level", LEVELS)
def test_lower_bound_and_tails_match_scipy(level: float) -> None:
    delta = 1 - level
    for k, n in GRID:
        if k == 0:
            continue
        ours = clopper_pearson_lower(k, n, delta)
        assert ours == pytest.approx(float(stats.beta.ppf(delta, k, n - k + 1)), abs=1e-9), (k, n)
        for rate in (0.01, 0.05, 0.2):
            at_least = binomial_tail_at_least(k, n, rate)
            assert at_least == pytest.approx(float(stats.binom.sf(k - 1, n, rate)), abs=1e-9)
            assert binomial_tail_at_most(k, n, rate) == pytest.approx(float(stats.binom.cdf(k, n, rate)), abs=1e-9)
            # the test and the bound agree: the lower bound is over ``rate`` exactly when the p-value is small
            if abs(ours - rate) > 1e-6:
                assert (ours > rate) == (at_least < delta), (k, n, rate)


@pytest.mark.parametrize("level", LEVELS)
def test_wilson_matches_reference_formula(level: float) -> None:
    z = float(stats.norm.ppf(level))
    for k, n in GRID:
        p = k / n
        ref = (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
        assert wilson_upper(k, n, 1 - level) == pytest.approx(min(1.0, ref), abs=1e-12), (k, n)
        assert upper_bound(k, n, 1 - level, "wilson") == wilson_upper(k, n, 1 - level)


def test_fractional_counts_match_scipy() -> None:
    for a, b in [(0.5, 0.5), (1.3, 17.2), (3.75, 120.5), (40.2, 900.7), (0.01, 3.0), (250.0, 250.0)]:
        for x in (1e-6, 0.001, 0.03, 0.2, 0.5, 0.77, 0.999):
            assert betainc(a, b, x) == pytest.approx(float(special.betainc(a, b, x)), abs=1e-11)
        for p in (0.05, 0.5, 0.9, 0.95, 0.99):
            assert betaincinv(a, b, p) == pytest.approx(float(special.betaincinv(a, b, p)), abs=1e-9)


def test_effective_counts() -> None:
    assert effective_counts([(1.0, True), (1.0, False), (1.0, False), (1.0, False)]) == (0.25, 1.0, 4.0)
    assert effective_counts([]) == (0.0, 0.0, 0.0)
    rate, wrong, n_eff = effective_counts([(0.1, True)] * 10 + [(1.0, False)] * 10)
    assert rate == pytest.approx(1 / 11)
    assert n_eff == pytest.approx(121 / 10.1)
    assert wrong == pytest.approx(rate * n_eff)
    # equal weights of any size are the unweighted case
    assert effective_counts([(7.0, True), (7.0, False)]) == pytest.approx((0.5, 1.0, 2.0))
    with pytest.raises(ValueError, match="positive"):
        effective_counts([(0.0, True)])
