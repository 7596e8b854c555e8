"""The ``learned`` confidence: a small model from a kept library over features that cost no extra call.

Two model kinds, both from scikit-learn and both deterministic for a given seed: ``logistic`` (standardised
features, L2-regularised logistic regression: few parameters, readable coefficients, hard to overfit on a
few hundred grades) and ``boosting`` (histogram gradient boosting, shallow trees: catches interactions such
as "long *and* no final answer"). :func:`cross_validated_scores` gives every query a score from a model
that never saw it (stratified k-fold, shuffled with ``seed``), which is what the held-out report and the
promotion rule compare; :class:`LearnedConfidence` is one model fitted on all of its data.

Needs the ``tiered[eval]`` extra (numpy, scikit-learn); scikit-learn is imported only when a model is made,
and its absence is reported with the install command.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tiered.confidence.linear import LinearConfidence
from tiered.offline._extra import INSTALL_COMMAND, MissingExtraError

__all__ = [
    "KINDS",
    "Kind",
    "LearnedConfidence",
    "LinearConfidence",
    "cross_validated_scores",
    "make_model",
    "require_learned",
]

Kind = Literal["logistic", "boosting"]
KINDS: tuple[Kind, ...] = ("logistic", "boosting")


def require_learned() -> None:
    """Raise :class:`MissingExtraError` naming the install command if scikit-learn is missing."""
    if importlib.util.find_spec("sklearn") is None:
        raise MissingExtraError(
            "The learned confidence model needs scikit-learn, which is not installed. "
            f"Install the eval extra: {INSTALL_COMMAND} (in a clone: bash scripts/install eval)"
        )


@contextmanager
def _one_thread() -> Iterator[None]:
    """Fit on one thread: on a few thousand grades OpenMP's worker threads cost more than they save, and on a
    busy machine their spin-waiting made gradient boosting 25 times slower (13.8 s against 0.5 s measured
    for 3-fold CV of 300 rows on this project's 2-core CI machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def make_model(kind: Kind, *, seed: int = 0) -> Any:
    """An unfitted scikit-learn classifier of ``kind`` (``predict_proba`` gives P(right))."""
    require_learned()
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if kind == "boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # Shallow, slow and few: a few hundred grades support little more; early stopping would carve a
        # validation split out of small folds.
        return HistGradientBoostingClassifier(
            max_depth=3, learning_rate=0.05, max_iter=150, min_samples_leaf=20, early_stopping=False, random_state=seed
        )
    raise ValueError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")


def cross_validated_scores(
    features: ArrayLike, correct: ArrayLike, *, kind: Kind = "logistic", folds: int = 5, seed: int = 0
) -> NDArray[np.float64]:
    """Out-of-fold P(right) for every query: each from a model fitted on the other ``folds - 1`` folds."""
    x, y = _arrays(features, correct)
    smallest = int(min(y.sum(), (~y).sum()))
    if folds < 2 or smallest < folds:
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {max(folds, 2)} right and {max(folds, 2)} wrong "
            f"answers; these have {int(y.sum())} right and {int((~y).sum())} wrong"
        )
    require_learned()
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(y.size, dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with _one_thread():
        for train, test in splitter.split(x, y):
            model = make_model(kind, seed=seed).fit(x[train], y[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    return scores


@dataclass(slots=True)
class LearnedConfidence:
    """One ``learned`` model fitted on all of its data; :meth:`predict` gives P(right) per row."""

    kind: Kind = "logistic"
    seed: int = 0
    _model: Any = field(default=None, init=False, repr=False)

    def fit(self, features: ArrayLike, correct: ArrayLike) -> LearnedConfidence:
        x, y = _arrays(features, correct)
        if y.all() or not y.any():
            raise ValueError("the learned confidence needs both right and wrong answers to learn from")
        model = make_model(self.kind, seed=self.seed)
        with _one_thread():
            self._model = model.fit(x, y)
        return self

    def predict(self, features: ArrayLike) -> NDArray[np.float64]:
        if self._model is None:
            raise RuntimeError("fit the learned confidence before predicting with it")
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        with _one_thread():
            return np.asarray(self._model.predict_proba(x)[:, 1], dtype=np.float64)

    def export(self, names: Sequence[str]) -> LinearConfidence:
        """The fitted logistic model as plain numbers (``names`` label the feature columns it was fitted on)."""
        if self._model is None or self.kind != "logistic":
            raise ValueError("only a fitted logistic model can be exported as a linear confidence")
        scaler, logistic = self._model[0], self._model[-1]
        # a constant column has scale 0 in the scaler, which then divides by 1; keep that
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        return LinearConfidence(
            names=tuple(names),
            mean=tuple(float(v) for v in scaler.mean_),
            scale=tuple(float(v) for v in scale),
            coef=tuple(float(v) for v in logistic.coef_[0]),
            intercept=float(logistic.intercept_[0]),
        )


def _arrays(features: ArrayLike, correct: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    y = np.asarray(correct, dtype=bool)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise ValueError(f"features must be one row per query: {x.shape[0]} rows for {y.size} outcomes")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite numbers (encode a missing value with an indicator column)")
    return x, y
