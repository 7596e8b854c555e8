"""Train a ``learned`` confidence version from graded decisions, and the held-out rule that promotes it.

The graded decisions (:func:`tiered.store.confidence_versions.graded_examples`) are split once, stratified
and seeded, into a training part and a held-out part. A logistic model is fitted on the training part and
exported as plain numbers (:class:`~tiered.confidence.linear.LinearConfidence`); on the held-out part both it
and the signal in force (the route's current strategy) are scored through the same
:class:`~tiered.confidence.strategy.ConfidenceStrategy` code the proxy runs. Each gets its AUROC (DeLong
interval), ECE and, at the false-confident target, the lowest threshold whose one-sided Clopper-Pearson
upper bound on the false-confident rate among shipped held-out answers stays at or under the target, and the
share it ships. The candidate is promoted only when it ships strictly more than the signal in force at that
target.

Grades exist only for answers that were shipped, so both signals are compared on answers the signal in force
already let through; the comparison is fair between them, but the learned model has seen no answer below the
old threshold. Needs the ``tiered[eval]`` extra (numpy, scipy, scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tiered.offline.bounds import clopper_pearson_upper

from .features import FEATURE_NAMES, SignalInput, features
from .learned import LearnedConfidence, require_learned
from .linear import LinearConfidence
from .metrics import auroc_interval, expected_calibration_error, paired_difference
from .strategy import ConfidenceStrategy, Learned, RequestFacts, facts_of_stored

__all__ = ["Example", "SignalReport", "TrainingResult", "at_target", "examples_from_log", "train"]

MIN_PER_CLASS = 5
"""Right and wrong answers needed in each of the training and held-out parts."""


@dataclass(frozen=True, slots=True)
class Example:
    """One graded triage answer as a strategy sees it."""

    confidence: float | None
    answer: str
    facts: RequestFacts
    correct: bool


@dataclass(frozen=True, slots=True)
class SignalReport:
    """One signal on the held-out grades."""

    name: str
    auroc: float | None
    auroc_low: float | None
    auroc_high: float | None
    ece: float
    threshold: float | None  # lowest threshold meeting the target; None when none does
    shipped: float  # share of held-out answers shipped at that threshold (0 when none meets it)


@dataclass(frozen=True, slots=True)
class TrainingResult:
    model: LinearConfidence
    candidate: SignalReport
    incumbent: SignalReport
    promoted: bool
    reason: str
    train_size: int
    test_size: int
    target: float
    level: float
    seed: int
    auroc_difference_p: float | None

    def metrics(self) -> dict[str, Any]:
        return {
            "candidate": asdict(self.candidate),
            "incumbent": asdict(self.incumbent),
            "train_size": self.train_size,
            "test_size": self.test_size,
            "target": self.target,
            "level": self.level,
            "seed": self.seed,
            "auroc_difference_p": self.auroc_difference_p,
        }


def examples_from_log(rows: Sequence[Any]) -> list[Example]:
    """Examples from :class:`~tiered.store.confidence_versions.GradedExample` rows (request facts read from
    the stored request text exactly as the live strategy reads a request)."""
    from tiered.quality.transcript import parse_request_text

    return [
        Example(row.confidence, row.answer_text, facts_of_stored(parse_request_text(row.request_text)), row.correct)
        for row in rows
    ]


def train(
    examples: Sequence[Example],
    incumbent: ConfidenceStrategy,
    *,
    target: float,
    level: float = 0.95,
    test_share: float = 0.3,
    seed: int = 0,
) -> TrainingResult:
    """Fit a candidate on part of ``examples``, compare it with ``incumbent`` on the rest, decide promotion."""
    require_learned()
    from sklearn.model_selection import train_test_split

    y = np.array([e.correct for e in examples], dtype=bool)
    _enough(y, test_share)
    index = np.arange(len(examples))
    train_index, test_index = train_test_split(index, test_size=test_share, stratify=y, random_state=seed)
    x = np.array([_features(e) for e in examples], dtype=np.float64)
    fitted = LearnedConfidence("logistic", seed=seed).fit(x[train_index], y[train_index])
    model = fitted.export(FEATURE_NAMES)
    held_out = [examples[i] for i in test_index]
    labels = y[test_index]
    candidate_scores = _scores(Learned(model), held_out)
    incumbent_scores = _scores(incumbent, held_out)
    candidate = _report("learned (candidate)", candidate_scores, labels, target, level)
    current = _report(incumbent.name + " (in force)", incumbent_scores, labels, target, level)
    promoted, reason = _promotion(candidate, current, target)
    difference = paired_difference(candidate_scores, incumbent_scores, labels)
    return TrainingResult(
        model=model,
        candidate=candidate,
        incumbent=current,
        promoted=promoted,
        reason=reason,
        train_size=len(train_index),
        test_size=len(test_index),
        target=target,
        level=level,
        seed=seed,
        auroc_difference_p=None if difference is None else difference.p_value,
    )


def at_target(
    scores: NDArray[np.float64], correct: NDArray[np.bool_], target: float, level: float
) -> tuple[float | None, float]:
    """The lowest threshold whose shipped answers' false-confident upper bound (Clopper-Pearson, one-sided at
    ``level``) is at most ``target``, and the share it ships; ``(None, 0.0)`` when no threshold does."""
    if scores.size == 0:
        return None, 0.0
    order = np.argsort(-scores, kind="stable")
    ranked, wrong = scores[order], np.cumsum(~correct[order])
    # a threshold ships every answer scoring at least it: the candidates are the last index of each score value
    last = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    shipped = last + 1
    upper = clopper_pearson_upper(wrong[last], shipped, 1.0 - level)
    ok = np.flatnonzero(upper <= target)
    if ok.size == 0:
        return None, 0.0
    best = ok[-1]
    return float(ranked[last[best]]), float(shipped[best] / scores.size)


def _enough(y: NDArray[np.bool_], test_share: float) -> None:
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"the held-out share must be between 0 and 1, got {test_share}")
    right, wrong = int(y.sum()), int((~y).sum())
    smallest = min(right, wrong)
    if min(smallest * test_share, smallest * (1 - test_share)) < MIN_PER_CLASS:
        raise ValueError(
            f"not enough graded answers to train and hold out: {right} graded correct and {wrong} incorrect; "
            f"each of the training and held-out parts needs at least {MIN_PER_CLASS} of both"
        )


def _features(example: Example) -> tuple[float, ...]:
    facts = example.facts
    signal = SignalInput(example.answer, example.confidence, facts.text, facts.turns, facts.kind)
    return features(signal)


@dataclass(frozen=True, slots=True)
class _Read:
    confidence: float | None
    answer: str | None


def _scores(strategy: ConfidenceStrategy, examples: Sequence[Example]) -> NDArray[np.float64]:
    return np.array([strategy.score(_Read(e.confidence, e.answer), e.facts) for e in examples], dtype=np.float64)


def _report(
    name: str, scores: NDArray[np.float64], labels: NDArray[np.bool_], target: float, level: float
) -> SignalReport:
    interval = auroc_interval(scores, labels)
    threshold, shipped = at_target(scores, labels, target, level)
    return SignalReport(
        name=name,
        auroc=None if interval is None else interval.auroc,
        auroc_low=None if interval is None else interval.low,
        auroc_high=None if interval is None else interval.high,
        ece=expected_calibration_error(scores, labels),
        threshold=threshold,
        shipped=shipped,
    )


def _promotion(candidate: SignalReport, incumbent: SignalReport, target: float) -> tuple[bool, str]:
    goal = f"a false-confident bound of at most {target:.1%}"
    if candidate.threshold is None:
        return False, f"not promoted: no threshold of the candidate meets {goal} on the held-out grades"
    if candidate.shipped <= incumbent.shipped:
        return False, (
            f"not promoted: at {goal} the candidate ships {candidate.shipped:.1%} of held-out answers, "
            f"the signal in force {incumbent.shipped:.1%}"
        )
    return True, (
        f"promoted: at {goal} the candidate ships {candidate.shipped:.1%} of held-out answers "
        f"(threshold {candidate.threshold:.3f}), the signal in force {incumbent.shipped:.1%}"
    )
