"""The false-confident rate: how often a shipped triage answer is wrong, with a one-sided upper bound.

Definitions (the words of DESIGN.md):

* A *graded answer* is a shipped decision (a triage answer was returned) with at least one decisive grade
  (``correct`` or ``incorrect``); ``unsure`` grades are left out. When a decision was graded more than once
  (the judge, then a person), its **latest** decisive grade counts, once.
* The *window* is the last ``GradeWindow.last`` graded answers, by the time of their grade, and/or those graded
  within ``GradeWindow.span`` of now; with both, the smaller set.
* The *rate* is the weighted share of ``incorrect`` answers, each weighted by its grade's ``weight`` (the
  inverse inclusion probability of a stratified audit sample, relative to the route's base rate; 1 for a
  uniform sample or an ungraded-by-sampling decision). The *upper bound* is one-sided at ``level``: exact
  Clopper-Pearson by default, or Wilson; with unequal weights it is computed on Kish's effective sample size
  (see :func:`tiered.quality.bounds.effective_counts`).

:func:`false_confident_summary` is the one function every reader uses (threshold controller, metrics, API,
CLI, dashboard); :func:`route_summary` fills its parameters from a route's settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .bounds import clopper_pearson_upper, effective_counts, wilson_upper

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from tiered.config import Settings

__all__ = [
    "DEFAULT_WINDOW",
    "BoundMethod",
    "FalseConfidentSummary",
    "GradeWindow",
    "false_confident_summary",
    "route_summary",
    "upper_bound",
]

BoundMethod = Literal["clopper-pearson", "wilson"]


@dataclass(frozen=True, slots=True)
class GradeWindow:
    """Which grades count: the ``last`` N graded answers and/or those graded within ``span`` of now."""

    last: int | None = 500
    span: timedelta | None = None

    def __post_init__(self) -> None:
        if self.last is not None and self.last <= 0:
            raise ValueError(f"GradeWindow.last must be positive, got {self.last}")
        if self.span is not None and self.span <= timedelta(0):
            raise ValueError(f"GradeWindow.span must be positive, got {self.span}")

    def describe(self) -> str:
        parts = []
        if self.last is not None:
            parts.append(f"last {self.last} graded answers")
        if self.span is not None:
            parts.append(f"graded in the last {self.span}")
        return " and ".join(parts) or "all graded answers"


DEFAULT_WINDOW = GradeWindow()


@dataclass(frozen=True, slots=True)
class FalseConfidentSummary:
    """The false-confident rate of one route (or all routes) and tier (or all tiers) over a window."""

    route: str | None
    tier: int | None
    n: int  # graded answers in the window
    wrong: int  # of which the counted grade is ``incorrect``
    rate: float | None  # weighted estimate; None when n == 0
    upper_bound: float  # one-sided, at ``level``; 1.0 when n == 0
    level: float
    target: float | None  # the route's ``max_false_confident``, when known
    effective_n: float = 0.0  # Kish's effective sample size (== n with equal weights)
    method: BoundMethod = "clopper-pearson"
    window: GradeWindow = field(default_factory=GradeWindow)
    oldest_grade_at: datetime | None = None
    newest_grade_at: datetime | None = None
    min_threshold: float | None = None  # only answers shipped at a threshold of at least this counted
    slice: str | None = None  # only answers of this request slice counted (``None``: every slice)

    @property
    def over_target(self) -> bool:
        return self.target is not None and self.upper_bound > self.target

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times in ISO 8601, the window as ``{"last", "span_s"}``."""
        out = asdict(self)
        out["window"] = {
            "last": self.window.last,
            "span_s": self.window.span.total_seconds() if self.window.span is not None else None,
        }
        for key in ("oldest_grade_at", "newest_grade_at"):
            value = out[key]
            out[key] = value.isoformat() if isinstance(value, datetime) else None
        out["over_target"] = self.over_target
        return out


def upper_bound(wrong: float, n: float, delta: float, method: BoundMethod = "clopper-pearson") -> float:
    """The one-sided ``1 - delta`` upper bound by ``method`` (see :mod:`tiered.quality.bounds`)."""
    if method == "wilson":
        return wilson_upper(wrong, n, delta)
    return clopper_pearson_upper(wrong, n, delta)


def _graded_query(
    route: str | None,
    tier: int | None,
    slice_: str | None,
    since: datetime | None,
    min_threshold: float | None,
) -> sa.Select[Any]:
    """Grades of shipped answers that match, newest first (a decision may appear once per grade)."""
    import sqlalchemy as sa

    from tiered.store.schema import GradeVerdict, decisions, grades

    conditions: list[sa.ColumnElement[bool]] = [
        decisions.c.shipped,
        grades.c.verdict.in_([GradeVerdict.CORRECT.value, GradeVerdict.INCORRECT.value]),
    ]
    if route is not None:
        conditions.append(decisions.c.route == route)
    if tier is not None:
        conditions.append(decisions.c.answer_tier == tier)
    if slice_ is not None:
        conditions.append(decisions.c.slice == slice_)
    if since is not None:
        conditions.append(grades.c.created_at >= since)
    if min_threshold is not None:
        conditions.append(decisions.c.threshold >= min_threshold - 1e-9)
    return (
        sa.select(grades.c.decision_id, grades.c.verdict, grades.c.weight, grades.c.created_at)
        .select_from(grades.join(decisions, grades.c.decision_id == decisions.c.id))
        .where(*conditions)
        .order_by(grades.c.created_at.desc(), grades.c.id.desc())
    )


def _latest_grades(
    engine: Engine, query: sa.Select[Any], last: int | None
) -> tuple[list[tuple[float, bool]], list[datetime]]:
    """``(weight, wrong)`` of each decision's latest grade, newest first, at most ``last``; and their times."""
    from tiered.store.schema import GradeVerdict

    seen: set[str] = set()
    samples: list[tuple[float, bool]] = []
    times: list[datetime] = []
    with engine.connect() as conn:
        for decision_id, verdict, weight, created_at in conn.execution_options(yield_per=1000).execute(query):
            if decision_id in seen:
                continue  # an older grade of an answer already counted by its latest grade
            seen.add(decision_id)
            samples.append((float(weight), verdict == GradeVerdict.INCORRECT.value))
            times.append(created_at)
            if last is not None and len(samples) >= last:
                break
    return samples, times


def false_confident_summary(
    engine: Engine,
    *,
    route: str | None,
    tier: int | None = None,
    window: GradeWindow = DEFAULT_WINDOW,
    level: float = 0.95,
    target: float | None = None,
    method: BoundMethod = "clopper-pearson",
    min_threshold: float | None = None,
    now: datetime | None = None,
    slice_: str | None = None,
) -> FalseConfidentSummary:
    """The false-confident rate over ``window`` for ``route`` (``None``: every route), the answering ``tier``
    (``None``: every tier) and the request slice ``slice_`` (``None``: every slice), with its one-sided
    ``level`` upper bound by ``method``.

    ``min_threshold`` keeps only answers shipped at a threshold of at least that (the threshold controller
    looks at evidence gathered under the current threshold). Reads the database; call it off the event loop.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    since = (now or datetime.now(UTC)) - window.span if window.span is not None else None
    samples, times = _latest_grades(engine, _graded_query(route, tier, slice_, since, min_threshold), window.last)
    n = len(samples)
    rate, eff_wrong, eff_n = effective_counts(samples)
    return FalseConfidentSummary(
        route=route,
        tier=tier,
        n=n,
        wrong=sum(1 for _, bad in samples if bad),
        rate=rate if n else None,
        upper_bound=upper_bound(min(eff_wrong, eff_n), eff_n, 1.0 - level, method),
        level=level,
        target=target,
        effective_n=eff_n,
        method=method,
        window=window,
        oldest_grade_at=min(times) if times else None,
        newest_grade_at=max(times) if times else None,
        min_threshold=min_threshold,
        slice=slice_,
    )


def route_summary(
    engine: Engine,
    settings: Settings,
    route: str,
    *,
    tier: int | None = None,
    min_threshold: float | None = None,
    now: datetime | None = None,
    slice_: str | None = None,
) -> FalseConfidentSummary:
    """:func:`false_confident_summary` with the window, level, target and method of ``route``'s settings."""
    spec = settings.route(route)
    span = timedelta(hours=spec.quality_window_hours) if spec.quality_window_hours is not None else None
    return false_confident_summary(
        engine,
        route=route,
        tier=tier,
        window=GradeWindow(last=spec.quality_window, span=span),
        level=spec.confidence_level,
        target=spec.max_false_confident,
        method=settings.quality.bound,
        min_threshold=min_threshold,
        now=now,
        slice_=slice_,
    )
