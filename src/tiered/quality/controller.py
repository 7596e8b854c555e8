"""The threshold controller: raise a route's threshold when its shipped answers are wrong too often.

Rule (evaluated per route every ``quality.controller_interval_s`` on every replica; the change is recorded
once, see :mod:`.thresholds`):

* **raise** one ``threshold_step``, up to ``threshold_ceiling``, when the false-confident rate's upper bound
  is over ``max_false_confident``, on at least ``quality.min_grades`` graded answers of which at least one is
  wrong. Only answers shipped at the current threshold or above count: the evidence must describe the
  threshold in force, so after a raise the controller waits for fresh grades before it raises again.
* **lower** (only with ``threshold_lower``; off by default) one step, never below the configured
  ``threshold``, when the bound is under ``max_false_confident * quality.lower_margin``, at most once per
  ``quality.lower_interval_s``. Lowering is a guess by nature: answers between the two thresholds were never
  shipped, so nothing measures them; hence slow, and off unless asked for.
* otherwise **hold**.

:func:`decide` is the pure rule; :class:`ThresholdController` reads the evidence and records the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from .stats import FalseConfidentSummary, route_summary
from .thresholds import ThresholdChange, current_changes, effective_threshold, record_change

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import RouteSettings, Settings
    from tiered.quality.settings import QualitySettings

__all__ = ["ControllerResult", "Step", "ThresholdController", "decide"]

Action = Literal["raise", "lower", "hold"]
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    old: float
    new: float
    reason: str


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def decide(
    spec: RouteSettings,
    quality: QualitySettings,
    current: float,
    summary: FalseConfidentSummary,
    last_change_at: datetime | None,
    now: datetime,
) -> Step:
    """What the controller does for one route, given the evidence (pure)."""
    target = spec.max_false_confident
    evidence = (
        f"false-confident upper bound {_fmt(summary.upper_bound)} ({summary.level:.0%} {summary.method}) "
        f"vs target {_fmt(target)}, {summary.wrong} wrong of {summary.n} graded answers shipped at "
        f"threshold >= {_fmt(current)}"
    )
    if summary.n < quality.min_grades:
        return Step("hold", current, current, f"{evidence}: fewer than {quality.min_grades} graded answers")
    if summary.upper_bound > target and summary.wrong >= 1:
        if current >= spec.threshold_ceiling - _EPS:
            return Step("hold", current, current, f"{evidence}: already at the ceiling {_fmt(current)}")
        new = round(min(spec.threshold_ceiling, current + spec.threshold_step), 6)
        return Step("raise", current, new, f"{evidence}: raised {_fmt(current)} -> {_fmt(new)}")
    lowering_due = last_change_at is None or now - last_change_at >= timedelta(seconds=quality.lower_interval_s)
    if (
        spec.threshold_lower
        and summary.upper_bound < target * quality.lower_margin
        and current > spec.threshold + _EPS
        and lowering_due
    ):
        new = round(max(spec.threshold, current - spec.threshold_step), 6)
        return Step("lower", current, new, f"{evidence}: well under target, lowered {_fmt(current)} -> {_fmt(new)}")
    return Step("hold", current, current, evidence)


@dataclass(frozen=True, slots=True)
class ControllerResult:
    route: str
    step: Step
    summary: FalseConfidentSummary
    change: ThresholdChange | None  # recorded by this call; None on hold or when another replica won


class ThresholdController:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine

    def preview(self, route: str, *, now: datetime | None = None) -> Step:
        """What :meth:`evaluate` would do for ``route`` now, without recording anything (``tiered grade`` asks
        before a verdict moves a threshold for everyone)."""
        return self._step(route, now or datetime.now(UTC))[0]

    def _step(self, route: str, moment: datetime) -> tuple[Step, FalseConfidentSummary, ThresholdChange | None]:
        spec = self._settings.route(route)
        newest = current_changes(self._engine).get(route)
        current = effective_threshold(self._settings, route, newest)
        summary = route_summary(self._engine, self._settings, route, min_threshold=current, now=moment)
        step = decide(spec, self._settings.quality, current, summary, newest.created_at if newest else None, moment)
        return step, summary, newest

    def evaluate(self, route: str, *, now: datetime | None = None) -> ControllerResult:
        """Look at ``route``'s evidence and record a change if the rule says so (reads and writes the database)."""
        moment = now or datetime.now(UTC)
        step, summary, newest = self._step(route, moment)
        change = None
        if step.action != "hold":
            evidence = {"action": step.action, "summary": summary.to_dict()}
            change = record_change(
                self._engine,
                route=route,
                old=step.old,
                new=step.new,
                reason=f"controller: {step.reason}",
                evidence=evidence,
                expected_last_id=newest.id if newest is not None else None,
                now=moment,
            )
        return ControllerResult(route, step, summary, change)

    def evaluate_all(self, *, now: datetime | None = None) -> list[ControllerResult]:
        return [self.evaluate(route, now=now) for route in self._settings.routes]
