"""The threshold controller's rules, as pure functions of the evidence (no I/O, no clock).

**Two-sided** (``quality.controller_rule = "two-sided"``, the default). ``alpha = 1 - confidence_level``;
``k`` wrong of ``n`` graded answers (Kish-effective counts when grades are weighted):

* **raise** one ``threshold_step`` (up to ``threshold_ceiling``) when the answers shipped at the current
  threshold show the false-confident rate *is* over the target: the exact binomial test of
  ``H0: rate <= target`` rejects at level ``alpha / (m (m + 1))``, ``m = ceil(n)``, i.e. the Clopper-Pearson
  *lower* bound at that level is over the target. The level shrinks with each new grade so that the tests of
  every look ``m = 1, 2, ...`` together keep ``P(any false raise) <= sum alpha / (m (m + 1)) = alpha`` for as
  long as the threshold stays (a union bound over looks: the controller may look every minute, forever).
* **lower** one step (never below ``threshold_floor``, default the configured threshold; at most once per
  ``quality.lower_interval_s``) only with evidence *at the lower threshold*: uniform shadow grades
  (:mod:`.shadow`) of answers the first tier would ship there, whose exact test of ``H0: rate >= target *
  lower_hysteresis`` rejects at level ``alpha / (m (m + 1))`` (the Clopper-Pearson upper bound at that level
  is under ``target * lower_hysteresis``). That is Learn-then-Test on one threshold at a time, with the same
  spending over looks: ``P(any lowering to a threshold whose rate is over target) <= alpha``.
* otherwise **hold**. The two conditions cannot both hold (one needs the rate over target at a higher
  threshold, the other well under at a lower one), and ``lower_hysteresis < 1`` leaves a dead band between
  them, so the threshold does not oscillate on noise.

**Upper-bound** (``"upper-bound"``, the first rule): raise while the upper bound is over target (no evidence
of a problem needed, only absence of proof that there is none), lower with ``threshold_lower`` on while it is
under ``target * lower_margin``. Kept for comparison; see docs/quality.md for the simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from .bounds import binomial_tail_at_least, binomial_tail_at_most, clopper_pearson_lower, clopper_pearson_upper

if TYPE_CHECKING:
    from tiered.config import RouteSettings
    from tiered.quality.settings import QualitySettings

    from .stats import FalseConfidentSummary

__all__ = ["Action", "ControllerStep", "Evidence", "decide", "look_level"]

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
    source: str  # "shipped" (live grades) or "shadow"


def look_level(alpha: float, n: float) -> float:
    """The level of the test at the look with ``n`` grades: ``alpha / (m (m + 1))``, ``m = ceil(n)``."""
    m = max(1, math.ceil(n - 1e-9))
    return alpha / (m * (m + 1))


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
    target, alpha = spec.max_false_confident, 1.0 - spec.confidence_level
    n, wrong = summary.effective_n, min(summary.effective_n, (summary.rate or 0.0) * summary.effective_n)
    level = look_level(alpha, n)
    evidence = (
        f"{summary.wrong} wrong of {summary.n} graded answers shipped at threshold >= {_fmt(current)}, "
        f"target {_fmt(target)}, sequential level {level:.3g} (alpha {_fmt(alpha)})"
    )
    if summary.n >= quality.min_grades and binomial_tail_at_least(wrong, n, target) < level:
        lower = clopper_pearson_lower(wrong, n, level)
        said = f"{evidence}: lower bound {_fmt(lower)} over target"
        if current >= spec.threshold_ceiling - _EPS:
            return ControllerStep("hold", current, current, f"{said}; already at the ceiling {_fmt(current)}")
        new = round(min(spec.threshold_ceiling, current + spec.threshold_step), 6)
        return ControllerStep("raise", current, new, f"{said}: raised {_fmt(current)} -> {_fmt(new)}")
    if below is not None and below.threshold < current - _EPS and _lowering_due(quality, last_change_at, now):
        goal = target * quality.lower_hysteresis
        at = look_level(alpha, below.n)
        if below.n > 0 and binomial_tail_at_most(below.wrong, below.n, goal) < at:
            upper = clopper_pearson_upper(below.wrong, below.n, at)
            return ControllerStep(
                "lower",
                current,
                below.threshold,
                f"{_fmt(below.wrong)} wrong of {_fmt(below.n)} {below.source} grades at threshold "
                f"{_fmt(below.threshold)}: upper bound {_fmt(upper)} (sequential level {at:.3g}) under "
                f"{_fmt(goal)} (target {_fmt(target)} x hysteresis {_fmt(quality.lower_hysteresis)}): lowered "
                f"{_fmt(current)} -> {_fmt(below.threshold)}",
            )
    return ControllerStep("hold", current, current, evidence)


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
