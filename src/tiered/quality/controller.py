"""The threshold controller: raise a route's threshold when its shipped answers are wrong too often, lower it
when uniform evidence proves a lower one meets the target.

The rules are pure functions in :mod:`.controller_rules` (``quality.controller_rule``: ``two-sided`` by
default, ``upper-bound`` the first rule); see docs/quality.md for the guarantees and the simulation. They are
evaluated per route every ``quality.controller_interval_s`` on every replica; the change is recorded once
(see :mod:`.thresholds`). Only answers shipped at the current threshold or above count as evidence for a
raise: after a raise the controller waits for fresh grades. Evidence for lowering comes from shadow grades
(:mod:`.shadow`) at the lower threshold, over the route's window; in live mode, from exploration
(:mod:`.explore`: escalated triages read to their end and judged, weighted ``1 / explore_rate``) between the
lower threshold and the current one, with the shipped grades above it (:func:`explore_evidence`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .controller_rules import ControllerStep, Evidence, decide, floor_of
from .stats import FalseConfidentSummary, route_summary
from .thresholds import ThresholdChange, current_changes, current_slice_changes, effective_threshold, record_change

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import Settings

__all__ = [
    "ControllerResult",
    "ControllerStep",
    "ThresholdController",
    "decide",
    "explore_evidence",
    "shadow_evidence",
]

_EPS = 1e-9


def shadow_evidence(
    engine: Engine, settings: Settings, route: str, threshold: float, slice_: str | None = None
) -> Evidence:
    """Shadow grades of answers that would ship at ``threshold`` on ``route`` (one slice of it, with
    ``slice_``), over the route's window."""
    from tiered.store.shadow import read_shadow_rows

    spec = settings.route(route)
    hours = spec.quality_window_hours
    since = datetime.now(UTC) - timedelta(hours=hours) if hours is not None else None
    rows = read_shadow_rows(engine, route=route, since=since, slice_=slice_, limit=spec.quality_window)
    n = wrong = 0
    for row in rows:
        ships = row.problem is None and row.confidence is not None and row.confidence >= threshold - _EPS
        if ships and row.verdict in ("correct", "incorrect"):
            n += 1
            wrong += row.verdict == "incorrect"
    return Evidence(threshold, float(n), float(wrong), "shadow")


def explore_evidence(
    engine: Engine,
    settings: Settings,
    route: str,
    threshold: float,
    current: float,
    above: FalseConfidentSummary,
    slice_: str | None = None,
) -> Evidence:
    """Live mode: the false-confident rate of a live route at ``threshold`` (below ``current``, the threshold
    in force), from the explored grades of answers in ``[threshold, current)`` (weight ``1 / explore_rate``)
    and the shipped grades at ``current`` and above (``above``, weight ``1 / audit_rate``): the weighted rate
    over Kish's effective count, so that a few heavily weighted grades do not count as many."""
    from tiered.store.shadow import read_shadow_rows

    spec = settings.route(route)
    hours = spec.quality_window_hours
    since = datetime.now(UTC) - timedelta(hours=hours) if hours is not None else None
    rows = read_shadow_rows(
        engine, route=route, since=since, slice_=slice_, limit=spec.quality_window, source="explore"
    )
    weights: list[float] = []
    wrong = 0.0
    for row in rows:
        band = row.confidence is not None and threshold - _EPS <= row.confidence < current - _EPS
        if band and row.problem is None and row.verdict in ("correct", "incorrect"):
            weights.append(row.weight)
            wrong += row.weight * (row.verdict == "incorrect")
    total, squares = sum(weights), sum(w * w for w in weights)
    if above.n and spec.audit_rate > 0:
        w = 1.0 / spec.audit_rate
        total += above.n * w
        squares += above.n * w * w
        wrong += (above.rate if above.rate is not None else above.wrong / above.n) * above.n * w
    if total <= 0:
        return Evidence(threshold, 0.0, 0.0, "explore")
    n = total * total / squares
    return Evidence(threshold, n, n * wrong / total, "explore")


@dataclass(frozen=True, slots=True)
class ControllerResult:
    route: str
    step: ControllerStep
    summary: FalseConfidentSummary
    change: ThresholdChange | None  # recorded by this call; None on hold or when another replica won
    slice: str | None = None  # the slice whose own threshold this is about; None: the route's


class ThresholdController:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine

    def preview(self, route: str, *, now: datetime | None = None) -> ControllerStep:
        """What :meth:`evaluate` would do for ``route`` now, without recording anything (``tiered grade`` asks
        before a verdict moves a threshold for everyone)."""
        return self._step(route, now or datetime.now(UTC))[0]

    def slice_previews(self, route: str, *, now: datetime | None = None) -> dict[str, ControllerStep]:
        """What the rule would do for each slice of ``route`` on that slice's evidence alone (nothing is
        recorded or applied; :meth:`evaluate_slices` records them for routes with ``slice_thresholds``). Slices
        are those of graded decisions and shadow results."""
        moment = now or datetime.now(UTC)
        return {name: self._step(route, moment, name)[0] for name in self._slices(route)}

    def _slices(self, route: str) -> list[str]:
        import sqlalchemy as sa

        from tiered.store.schema import decisions, grades, shadow_results

        graded = (
            sa.select(decisions.c.slice)
            .join(grades, grades.c.decision_id == decisions.c.id)
            .where(decisions.c.route == route, decisions.c.slice.is_not(None))
        )
        shadowed = sa.select(shadow_results.c.slice).where(
            shadow_results.c.route == route, shadow_results.c.slice.is_not(None)
        )
        with self._engine.connect() as conn:
            found = set(conn.execute(graded.distinct()).scalars()) | set(conn.execute(shadowed.distinct()).scalars())
        return sorted(found)

    def _step(
        self, route: str, moment: datetime, slice_: str | None = None
    ) -> tuple[ControllerStep, FalseConfidentSummary, ThresholdChange | None, Evidence | None]:
        spec = self._settings.route(route)
        newest = current_changes(self._engine).get(route)
        current = effective_threshold(self._settings, route, newest)
        if slice_ is not None:  # a slice starts at its route's threshold, then has its own sequence of changes
            newest = current_slice_changes(self._engine).get((route, slice_))
            current = current if newest is None or newest.reset else newest.new_threshold
        summary = route_summary(self._engine, self._settings, route, min_threshold=current, now=moment, slice_=slice_)
        below = None
        lower = round(max(floor_of(spec), current - spec.threshold_step), 6)
        if self._settings.quality.controller_rule == "two-sided" and lower < current - _EPS:
            if spec.mode == "live" and spec.explore_rate > 0:
                below = explore_evidence(self._engine, self._settings, route, lower, current, summary, slice_)
            else:
                below = shadow_evidence(self._engine, self._settings, route, lower, slice_)
        changed = newest.created_at if newest else None
        step = decide(spec, self._settings.quality, current, summary, changed, moment, below)
        return step, summary, newest, below

    def evaluate(self, route: str, *, now: datetime | None = None, slice_: str | None = None) -> ControllerResult:
        """Look at ``route``'s evidence (one slice's, with ``slice_``: its own threshold) and record a change if
        the rule says so (reads and writes the database)."""
        moment = now or datetime.now(UTC)
        step, summary, newest, below = self._step(route, moment, slice_)
        change = None
        if step.action != "hold":
            evidence = {
                "action": step.action,
                "summary": summary.to_dict(),
                "rule": self._settings.quality.controller_rule,
            }
            if step.action == "lower" and below is not None:
                evidence["below"] = asdict(below)
            change = record_change(
                self._engine,
                route=route,
                old=step.old,
                new=step.new,
                reason=f"controller: {step.reason}",
                evidence=evidence,
                expected_last_id=newest.id if newest is not None else None,
                now=moment,
                slice_=slice_,
            )
        return ControllerResult(route, step, summary, change, slice_)

    def evaluate_all(self, *, now: datetime | None = None) -> list[ControllerResult]:
        return [self.evaluate(route, now=now) for route in self._settings.routes]

    def evaluate_slices(self, *, now: datetime | None = None) -> list[ControllerResult]:
        """Every slice of the routes with ``slice_thresholds``, each on its own evidence and threshold."""
        found = []
        for route, spec in self._settings.routes.items():
            if spec.slice_thresholds and spec.slice_from != "none":
                found += [self.evaluate(route, now=now, slice_=name) for name in self._slices(route)]
        return found
