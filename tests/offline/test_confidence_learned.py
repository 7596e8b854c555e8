"""The learned confidence model and its held-out metrics (tiered.confidence.learned, .metrics)."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tiered.confidence import learned
from tiered.confidence.learned import (
    LearnedConfidence,
    LinearConfidence,
    cross_validated_scores,
    make_model,
    require_learned,
)
from tiered.confidence.metrics import auroc_interval, expected_calibration_error, paired_difference
from tiered.offline._extra import INSTALL_COMMAND, MissingExtraError
from tiered.offline.calibration import auroc


def synthetic(n: int, signal: float, seed: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Five features; P(right) depends on the first through ``signal`` (0: not at all)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    right = rng.uniform(size=n) < 1 / (1 + np.exp(-signal * x[:, 0]))
    return x, right


def test_cross_validation_finds_a_known_signal() -> None:
    x, right = synthetic(600, 2.5, seed=1)
    scores = cross_validated_scores(x, right, kind="logistic", folds=5, seed=0)
    found = auroc_interval(scores, right)
    assert found is not None and found.auroc > 0.85 and found.low > 0.8
    # and the same seed gives the same out-of-fold scores
    np.testing.assert_array_equal(scores, cross_validated_scores(x, right, kind="logistic", folds=5, seed=0))


def test_cross_validation_finds_nothing_in_noise() -> None:
    x, right = synthetic(600, 0.0, seed=2)
    found = auroc_interval(cross_validated_scores(x, right, kind="logistic", folds=5, seed=0), right)
    # seeded data and folds: deterministic, so the tolerance cannot flake
    assert found is not None and abs(found.auroc - 0.5) < 0.05 and found.low < 0.5 < found.high


def test_boosting_on_a_small_interaction() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    right = (x[:, 0] > 0) ^ (x[:, 1] > 0)  # no linear signal at all, a perfect interaction
    boosted = auroc(cross_validated_scores(x, right, kind="boosting", folds=3, seed=0), right)
    linear = auroc(cross_validated_scores(x, right, kind="logistic", folds=3, seed=0), right)
    assert boosted is not None and linear is not None and boosted > 0.9 > 0.7 > linear


def test_fitted_model_predicts_probabilities() -> None:
    x, right = synthetic(200, 3.0, seed=4)
    model = LearnedConfidence("logistic").fit(x, right)
    probs = model.predict(x[:10])
    assert probs.shape == (10,) and ((probs >= 0) & (probs <= 1)).all()
    assert model.predict(np.array([3.0, 0, 0, 0, 0]))[0] > 0.8 > 0.2 > model.predict(np.array([-3.0, 0, 0, 0, 0]))[0]


def test_bad_inputs_are_clear() -> None:
    with pytest.raises(ValueError, match="5-fold cross-validation needs at least 5 right"):
        cross_validated_scores(np.zeros((10, 1)), np.array([True] * 8 + [False] * 2), folds=5)
    with pytest.raises(ValueError, match="one row per query"):
        cross_validated_scores(np.zeros((10, 1)), np.ones(9, dtype=bool))
    with pytest.raises(ValueError, match="finite"):
        LearnedConfidence().fit(np.array([[np.nan], [1.0]]), np.array([True, False]))
    with pytest.raises(ValueError, match="both right and wrong"):
        LearnedConfidence().fit(np.ones((4, 1)), np.ones(4, dtype=bool))
    with pytest.raises(RuntimeError, match="fit the learned confidence"):
        LearnedConfidence().predict(np.ones((1, 1)))
    with pytest.raises(ValueError, match="unknown model kind"):
        make_model("forest")  # type: ignore[arg-type]


def test_missing_scikit_learn_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "sklearn" else real(name, *args)

    monkeypatch.setattr(learned.importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingExtraError, match=INSTALL_COMMAND.replace("[", r"\[").replace("]", r"\]")):
        require_learned()


def delong_by_definition(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> tuple[float, float]:
    """AUROC and DeLong variance straight from the structural components' O(m n) definition."""
    pos, neg = scores[labels], scores[~labels]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)


def test_delong_interval_matches_its_definition() -> None:
    rng = np.random.default_rng(5)
    labels = rng.uniform(size=120) < 0.6
    scores = np.round(rng.normal(size=120) + labels, 1)  # ties on purpose
    found = auroc_interval(scores, labels, level=0.95)
    auc, var = delong_by_definition(scores, labels)
    assert found is not None
    assert found.auroc == pytest.approx(auc) == pytest.approx(auroc(scores, labels))
    assert (found.high - found.low) / 2 == pytest.approx(1.959964 * np.sqrt(var), rel=1e-5)
    assert found.n == 120 and found.positives == int(labels.sum())


def test_delong_edges_and_paired_difference() -> None:
    labels = np.array([False, False, True, True])
    perfect = auroc_interval(np.array([0.1, 0.2, 0.8, 0.9]), labels)
    assert perfect is not None and (perfect.auroc, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
    assert auroc_interval(np.array([0.1, 0.2]), np.array([True, True])) is None
    rng = np.random.default_rng(6)
    y = rng.uniform(size=300) < 0.5
    good, noise = y + rng.normal(size=300), rng.normal(size=300)
    same = paired_difference(good, good, y)
    assert same is not None and same.difference == 0.0 and same.p_value == 1.0
    better = paired_difference(good, noise, y)
    assert better is not None and better.difference > 0.1 and better.p_value < 1e-3 and better.low > 0


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)
    # two bins: 0.2 stated, 0.5 observed; 1.0 stated, 1.0 observed
    assert expected_calibration_error([0.2, 0.2, 1.0, 1.0], [True, False, True, True]) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="at least one"):
        expected_calibration_error([], [])


def test_an_exported_logistic_model_scores_in_pure_python() -> None:
    x, right = synthetic(300, 2.0, seed=7)
    x[:, 4] = 1.0  # a constant column: the scaler leaves it alone, and so must the export
    model = LearnedConfidence("logistic").fit(x, right)
    linear = model.export([f"f{i}" for i in range(5)])
    expected = model.predict(x[:20])
    assert [linear(tuple(row)) for row in x[:20]] == pytest.approx(expected.tolist(), abs=1e-12)
    again = LinearConfidence.from_dict(json.loads(json.dumps(linear.to_dict())))
    assert again == linear
    assert linear((1e6, 0, 0, 0, 1)) == pytest.approx(1.0) and linear((-1e6, 0, 0, 0, 1)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="expected 5 features"):
        linear((1.0,))
    with pytest.raises(ValueError, match="only a fitted logistic"):
        LearnedConfidence("boosting").fit(x, right).export(["a"] * 5)
    with pytest.raises(ValueError, match="not a logistic"):
        LinearConfidence.from_dict({"kind": "forest"})
    with pytest.raises(ValueError, match="one mean, scale and coefficient"):
        LinearConfidence(names=("a",), mean=(), scale=(), coef=(), intercept=0.0)
