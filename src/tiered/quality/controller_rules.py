"""The threshold controller's rules, as pure functions of the evidence (no I/O, no clock).

**Two-sided** (``quality.controller_rule = "two-sided"``, the default). ``alpha = 1 - confidence_level``,
``A = max_false_confident``, ``r = quality.evidence_ratio`` (default 2); ``k`` wrong of ``n`` graded answers
(Kish-effective counts when grades are weighted). Both sides are Wald's sequential probability ratio test,
read with Ville's inequality, so they may be looked at after every grade, forever, at a controlled error:

* **raise** one ``threshold_step`` (up to ``threshold_ceiling``) when the answers shipped at the current
  threshold are ``1 / alpha`` times likelier under a rate of ``r A`` than under ``A``:
  ``k ln r + (n - k) ln((1 - r A) / (1 - A)) >= ln(1 / alpha)``. While the true rate is at most ``A``, that
  likelihood ratio is a non-negative supermartingale starting at 1, so ``P(it ever reaches 1 / alpha) <=
  alpha``: a false alarm has probability at most ``alpha`` per threshold, however often the controller looks.
  It needs at least one wrong answer and ``quality.min_grades`` grades.
* **lower** one step (never below ``threshold_floor``, default the configured threshold; at most once per
  ``quality.lower_interval_s``) only on evidence *at the lower threshold*: uniform shadow grades
  (:mod:`.shadow`) of the answers the first tier would ship there, ``1 / alpha`` times likelier under a rate
  of ``G / r`` than under ``G = A * quality.lower_hysteresis``. While the true rate there is at least ``G``
  the ratio is again a supermartingale, so ``P(lowering to a threshold whose rate is >= G) <= alpha``.
* otherwise **hold**. ``G < A`` leaves a dead band between the two tests, so the threshold does not
  oscillate on noise; each change comes with the Clopper-Pearson bound at ``alpha`` for people to read.

**Upper-bound** (``"upper-bound"``, the first rule): raise while the upper bound is over target (no evidence
of a problem needed, only absence of proof that there is none), lower with ``threshold_lower`` on while it is
under ``target * lower_margin``. Kept for comparison; see docs/quality.md for the simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from .bounds import clopper_pearson_lower, clopper_pearson_upper

if TYPE_CHECKING:
    from tiered.config import RouteSettings
    from tiered.quality.settings import QualitySettings

    from .stats import FalseConfidentSummary

__all__ = ["Action", "ControllerStep", "Evidence", "decide", "log_likelihood_ratio"]

Action = Literal["raise", "lower", "hold"]
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ControllerStep:
    """What the controller does for one route: the action, the thresholds, and why in words."""

    action: Action
    old: float
    new: float
    reason: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """``wrong`` of ``n`` graded answers that ship at ``threshold`` (effective counts when weighted)."""

    threshold: float
    n: float
    wrong: float
    source: str  # "shipped" (live grades), "shadow" or "explore" (live mode, weighted)


def log_likelihood_ratio(wrong: float, n: float, null: float, alternative: float) -> float:
    """``ln`` of the likelihood ratio of ``wrong`` of ``n`` under a rate of ``alternative`` against ``null``."""
    return wrong * math.log(alternative / null) + (n - wrong) * math.log((1.0 - alternative) / (1.0 - null))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def floor_of(spec: RouteSettings) -> float:
    return spec.threshold if spec.threshold_floor is None else spec.threshold_floor


def decide(
    spec: RouteSettings,
    quality: QualitySettings,
    current: float,
    summary: FalseConfidentSummary,
    last_change_at: datetime | None,
    now: datetime,
    below: Evidence | None = None,
) -> ControllerStep:
    """What the controller does for one route under ``quality.controller_rule`` (pure)."""
    if quality.controller_rule == "upper-bound":
        return decide_upper_bound(spec, quality, current, summary, last_change_at, now)
    return decide_two_sided(spec, quality, current, summary, last_change_at, now, below)


def _lowering_due(quality: QualitySettings, last_change_at: datetime | None, now: datetime) -> bool:
    return last_change_at is None or now - last_change_at >= timedelta(seconds=quality.lower_interval_s)


def decide_two_sided(
    spec: RouteSettings,
    quality: QualitySettings,
    current: float,
    summary: FalseConfidentSummary,
    last_change_at: datetime | None,
    now: datetime,
    below: Evidence | None = None,
) -> ControllerStep:
    """The two-sided rule (see the module docstring)."""
    target, alpha, ratio = spec.max_false_confident, 1.0 - spec.confidence_level, quality.evidence_ratio
    n, wrong = summary.effective_n, min(summary.effective_n, (summary.rate or 0.0) * summary.effective_n)
    needed = math.log(1.0 / alpha)
    evidence = (
        f"{summary.wrong} wrong of {summary.n} graded answers shipped at threshold >= {_fmt(current)}, target "
        f"{_fmt(target)}, sequential test at alpha {_fmt(alpha)}"
    )
    over = log_likelihood_ratio(wrong, n, target, min(0.999, ratio * target)) if n else 0.0
    if summary.n >= quality.min_grades and summary.wrong >= 1 and over >= needed:
        lower = clopper_pearson_lower(wrong, n, alpha)
        said = (
            f"{evidence}: likelihood ratio {math.exp(over):.3g} >= {1 / alpha:.3g} for a rate of "
            f"{_fmt(ratio * target)} over {_fmt(target)} (Clopper-Pearson lower bound {_fmt(lower)})"
        )
        if current >= spec.threshold_ceiling - _EPS:
            return ControllerStep("hold", current, current, f"{said}; already at the ceiling {_fmt(current)}")
        new = round(min(spec.threshold_ceiling, current + spec.threshold_step), 6)
        return ControllerStep("raise", current, new, f"{said}: raised {_fmt(current)} -> {_fmt(new)}")
    if (
        below is not None
        and floor_of(spec) - _EPS <= below.threshold < current - _EPS
        and _lowering_due(quality, last_change_at, now)
    ):
        goal = target * quality.lower_hysteresis
        under = log_likelihood_ratio(below.wrong, below.n, goal, goal / ratio) if below.n else 0.0
        if under >= needed:
            upper = clopper_pearson_upper(below.wrong, below.n, alpha)
            return ControllerStep(
                "lower",
                current,
                below.threshold,
                f"{_fmt(below.wrong)} wrong of {_fmt(below.n)} {below.source} grades at threshold "
                f"{_fmt(below.threshold)}: likelihood ratio {math.exp(under):.3g} >= {1 / alpha:.3g} for a rate of "
                f"{_fmt(goal / ratio)} under {_fmt(goal)} (target {_fmt(target)} x hysteresis "
                f"{_fmt(quality.lower_hysteresis)}; Clopper-Pearson upper bound {_fmt(upper)}): lowered "
                f"{_fmt(current)} -> {_fmt(below.threshold)}",
            )
    return ControllerStep("hold", current, current, f"{evidence}: log likelihood ratio {over:.3g} of {needed:.3g}")


def decide_upper_bound(
    spec: RouteSettings,
    quality: QualitySettings,
    current: float,
    summary: FalseConfidentSummary,
    last_change_at: datetime | None,
    now: datetime,
) -> ControllerStep:
    """The first rule: raise on the upper bound, lower (opt-in) on a margin under it."""
    target = spec.max_false_confident
    evidence = (
        f"false-confident upper bound {_fmt(summary.upper_bound)} ({summary.level:.0%} {summary.method}) "
        f"vs target {_fmt(target)}, {summary.wrong} wrong of {summary.n} graded answers shipped at "
        f"threshold >= {_fmt(current)}"
    )
    if summary.n < quality.min_grades:
        return ControllerStep("hold", current, current, f"{evidence}: fewer than {quality.min_grades} graded answers")
    if summary.upper_bound > target and summary.wrong >= 1:
        if current >= spec.threshold_ceiling - _EPS:
            return ControllerStep("hold", current, current, f"{evidence}: already at the ceiling {_fmt(current)}")
        new = round(min(spec.threshold_ceiling, current + spec.threshold_step), 6)
        return ControllerStep("raise", current, new, f"{evidence}: raised {_fmt(current)} -> {_fmt(new)}")
    floor = floor_of(spec)
    if (
        spec.threshold_lower
        and summary.upper_bound < target * quality.lower_margin
        and current > floor + _EPS
        and _lowering_due(quality, last_change_at, now)
    ):
        new = round(max(floor, current - spec.threshold_step), 6)
        return ControllerStep(
            "lower", current, new, f"{evidence}: well under target, lowered {_fmt(current)} -> {_fmt(new)}"
        )
    return ControllerStep("hold", current, current, evidence)
