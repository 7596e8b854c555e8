"""``tiered report``: what routing did over a time window, computed in SQL on SQLite and PostgreSQL alike.

Definitions (the words of DESIGN.md):

* *calls*: decisions in the window; *routed* calls exclude passthrough (the caller named a plain model).
* *escalation rate*: escalated routed calls / routed calls.
* *outcome* of a call: ``shipped`` (a triage answer was returned), ``escalated`` (answered by a later tier
  after escalation), ``answered`` (routed, neither), ``passthrough``, or ``failed`` (no tier answered).
* *savings*: counterfactual cost (the request sent to the route's final tier alone) minus actual cost, over
  calls where both are known; ``savings_pct`` is relative to that counterfactual. Calls with an unknown cost
  are counted in ``unknown_cost_calls``, never as zero.
* *latency p50/p95*: nearest-rank percentiles per outcome.
* *where the money goes* (``money``): routed calls by prompt-size bucket, conversation depth and routing
  reason, with their cost, savings, cache penalty and the calls that lost money (see :mod:`tiered.store.money`).
* *false-confident rate*: over grades of shipped calls in the window, the weight of ``incorrect`` verdicts
  over the weight of ``correct`` and ``incorrect`` ones (``unsure`` is left out); ``None`` until grades exist.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tiered.store.money import MoneyRow, money_rows

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "OUTCOMES",
    "ConfidenceBucket",
    "CostSummary",
    "LatencyStat",
    "MoneyRow",
    "QualitySummary",
    "ReasonCount",
    "Report",
    "RouteSummary",
    "TierShare",
    "build_report",
    "outcome_case",
]

OUTCOMES = ("shipped", "escalated", "answered", "passthrough", "failed")
_BUCKETS = 10


@dataclass(frozen=True, slots=True)
class TierShare:
    """Calls answered by one tier (``tier`` and ``model`` are ``None`` for calls no tier answered). A
    pass-through call has no tier either: it went to the model the client named, unrouted."""

    tier: int | None
    model: str | None
    calls: int
    share: float
    passthrough: bool = False


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    calls: int
    share: float  # of escalated calls


@dataclass(frozen=True, slots=True)
class ConfidenceBucket:
    """Calls whose triage confidence is in ``[low, high)`` (the last bucket includes 1.0)."""

    low: float
    high: float
    calls: int
    shipped: int


@dataclass(frozen=True, slots=True)
class CostSummary:
    actual_usd: float  # over calls with a known cost
    counterfactual_usd: float  # over calls with a known counterfactual cost
    savings_usd: float  # over calls where both are known
    savings_pct: float | None  # savings / counterfactual, over calls where both are known
    costed_calls: int
    unknown_cost_calls: int
    # what the cascade's cold final-tier cache cost (decisions.cache_penalty_usd): inside ``actual_usd``, so
    # ``savings_usd`` is already net of it; the savings before it are ``savings_usd + cache_penalty_usd``
    cache_penalty_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class LatencyStat:
    outcome: str
    calls: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class QualitySummary:
    graded_calls: int  # shipped calls in the window with at least one correct/incorrect grade
    grades: int
    false_confident_rate: float | None


@dataclass(frozen=True, slots=True)
class RouteSummary:
    route: str
    calls: int
    escalation_rate: float | None
    actual_usd: float
    savings_usd: float


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    route: str | None
    calls: int
    routed_calls: int
    passthrough_calls: int
    failed_calls: int
    escalated_calls: int
    escalation_rate: float | None
    tiers: tuple[TierShare, ...]
    reasons: tuple[ReasonCount, ...]
    confidence_histogram: tuple[ConfidenceBucket, ...]
    cost: CostSummary
    latency: tuple[LatencyStat, ...]
    quality: QualitySummary
    routes: tuple[RouteSummary, ...]
    money: tuple[MoneyRow, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (datetimes in ISO 8601)."""
        out = dataclasses.asdict(self)
        for key in ("generated_at", "since", "until"):
            value = getattr(self, key)
            out[key] = value.isoformat() if value is not None else None
        return out


def build_report(
    engine: Engine, *, since: datetime | None, route: str | None = None, until: datetime | None = None
) -> Report:
    """Compute the report for decisions with ``since <= created_at < until`` (either bound optional)."""
    from datetime import UTC

    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    conditions: list[sa.ColumnElement[bool]] = []
    if since is not None:
        conditions.append(d.c.created_at >= since)
    if until is not None:
        conditions.append(d.c.created_at < until)
    if route is not None:
        conditions.append(d.c.route == route)
    where = sa.and_(sa.true(), *conditions)
    with engine.connect() as conn:
        totals = conn.execute(
            sa.select(
                sa.func.count(),
                _count(d.c.passthrough),
                _count(d.c.answered_by.is_(None)),
                _count(sa.and_(d.c.escalated, sa.not_(d.c.passthrough))),
            ).where(where)
        ).one()
        calls, passthrough, failed, escalated = (int(v or 0) for v in totals)
        routed = calls - passthrough
        report = Report(
            generated_at=datetime.now(UTC),
            since=since,
            until=until,
            route=route,
            calls=calls,
            routed_calls=routed,
            passthrough_calls=passthrough,
            failed_calls=failed,
            escalated_calls=escalated,
            escalation_rate=escalated / routed if routed else None,
            tiers=_tiers(conn, where, calls),
            reasons=_reasons(conn, where, escalated),
            confidence_histogram=_histogram(conn, where),
            cost=_cost(conn, where, calls),
            latency=_latency(conn, where),
            quality=_quality(conn, where),
            routes=_routes(conn, where),
            money=money_rows(conn, where),
        )
    return report


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    import sqlalchemy as sa

    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def outcome_case() -> sa.ColumnElement[str]:
    """A decision row's outcome (passthrough, failed, shipped, escalated, answered): the report's counts and
    the dashboard's listing use the same ladder."""
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    return sa.case(
        (d.c.passthrough, "passthrough"),
        (d.c.answered_by.is_(None), "failed"),
        (d.c.shipped, "shipped"),
        (d.c.escalated, "escalated"),
        else_="answered",
    )


def _tiers(conn: Connection, where: sa.ColumnElement[bool], calls: int) -> tuple[TierShare, ...]:
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    rows = conn.execute(
        sa.select(d.c.answer_tier, d.c.answered_by, d.c.passthrough, sa.func.count())
        .where(where)
        .group_by(d.c.answer_tier, d.c.answered_by, d.c.passthrough)
    ).all()
    shares = [
        TierShare(None if passthrough else tier, model, int(n), int(n) / calls, bool(passthrough))
        for tier, model, passthrough, n in rows
    ]
    return tuple(sorted(shares, key=lambda s: (s.passthrough, s.tier is None, s.tier or 0, s.model or "")))


def _reasons(conn: Connection, where: sa.ColumnElement[bool], escalated: int) -> tuple[ReasonCount, ...]:
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    reason = sa.func.coalesce(d.c.reason, "unknown")
    rows = conn.execute(
        sa.select(reason, sa.func.count()).where(where, d.c.escalated, sa.not_(d.c.passthrough)).group_by(reason)
    ).all()
    counts = [ReasonCount(str(r), int(n), int(n) / escalated) for r, n in rows]
    return tuple(sorted(counts, key=lambda c: (-c.calls, c.reason)))


def _histogram(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[ConfidenceBucket, ...]:
    """The first tier's triage confidences (a decision keeps a confidence only when it shipped, so the
    attempts are read: escalated calls count too), and how many of each bucket shipped."""
    import sqlalchemy as sa

    from tiered.store.schema import attempts as a
    from tiered.store.schema import decisions as d

    # A CASE ladder rather than floor(): SQLite may lack math functions, PostgreSQL rounds on CAST.
    bucket = sa.case(
        *((a.c.confidence < (i + 1) / _BUCKETS, i) for i in range(_BUCKETS - 1)),
        else_=_BUCKETS - 1,
    )
    rows = conn.execute(
        sa.select(bucket, sa.func.count(), _count(a.c.outcome == "shipped"))
        .select_from(a.join(d, d.c.id == a.c.decision_id))
        .where(where, a.c.role == "triage", a.c.tier == 0, a.c.confidence.is_not(None))
        .group_by(bucket)
    ).all()
    found = {int(b): (int(n), int(s)) for b, n, s in rows}
    return tuple(ConfidenceBucket(i / _BUCKETS, (i + 1) / _BUCKETS, *found.get(i, (0, 0))) for i in range(_BUCKETS))


def _cost(conn: Connection, where: sa.ColumnElement[bool], calls: int) -> CostSummary:
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    both = sa.and_(d.c.cost_usd.is_not(None), d.c.counterfactual_cost_usd.is_not(None))
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(d.c.cost_usd), 0.0),
            sa.func.coalesce(sa.func.sum(d.c.counterfactual_cost_usd), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((both, d.c.counterfactual_cost_usd - d.c.cost_usd))), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((both, d.c.counterfactual_cost_usd))), 0.0),
            _count(both),
            _count(d.c.cost_usd.is_(None)),
            sa.func.coalesce(sa.func.sum(sa.case((both, d.c.cache_penalty_usd))), 0.0),
        ).where(where)
    ).one()
    actual, counterfactual, savings, base, costed, unknown, penalty = row
    return CostSummary(
        actual_usd=float(actual),
        counterfactual_usd=float(counterfactual),
        savings_usd=float(savings),
        savings_pct=100.0 * float(savings) / float(base) if base else None,
        costed_calls=int(costed),
        unknown_cost_calls=int(unknown),
        cache_penalty_usd=float(penalty),
    )


def _latency(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[LatencyStat, ...]:
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    outcome = outcome_case()
    counts = dict(conn.execute(sa.select(outcome, sa.func.count()).where(where).group_by(outcome)).all())
    stats: list[LatencyStat] = []
    for name in OUTCOMES:
        n = int(counts.get(name, 0))
        if not n:
            continue

        def nearest_rank(p: float, n: int = n, name: str = name) -> float:
            # Ordered scan with OFFSET: no percentile function on SQLite, and no rows loaded into memory.
            offset = max(math.ceil(p * n) - 1, 0)
            value = conn.execute(
                sa.select(d.c.latency_ms).where(where, outcome == name).order_by(d.c.latency_ms).limit(1).offset(offset)
            ).scalar_one()
            return float(value)

        stats.append(LatencyStat(name, n, nearest_rank(0.50), nearest_rank(0.95)))
    return tuple(stats)


def _quality(conn: Connection, where: sa.ColumnElement[bool]) -> QualitySummary:
    import sqlalchemy as sa

    from tiered.store.schema import GradeVerdict
    from tiered.store.schema import decisions as d
    from tiered.store.schema import grades as g

    decided = g.c.verdict.in_([GradeVerdict.CORRECT.value, GradeVerdict.INCORRECT.value])
    row = conn.execute(
        sa.select(
            sa.func.count(sa.distinct(g.c.decision_id)),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(g.c.weight), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((g.c.verdict == GradeVerdict.INCORRECT.value, g.c.weight))), 0.0),
        )
        .select_from(g.join(d, g.c.decision_id == d.c.id))
        .where(where, d.c.shipped, decided)
    ).one()
    graded, count, weight, wrong = row
    return QualitySummary(
        graded_calls=int(graded),
        grades=int(count),
        false_confident_rate=float(wrong) / float(weight) if weight else None,
    )


def _routes(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[RouteSummary, ...]:
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    routed = sa.not_(d.c.passthrough)
    both = sa.and_(d.c.cost_usd.is_not(None), d.c.counterfactual_cost_usd.is_not(None))
    rows = conn.execute(
        sa.select(
            d.c.route,
            sa.func.count(),
            _count(routed),
            _count(sa.and_(routed, d.c.escalated)),
            sa.func.coalesce(sa.func.sum(d.c.cost_usd), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((both, d.c.counterfactual_cost_usd - d.c.cost_usd))), 0.0),
        )
        .where(where)
        .group_by(d.c.route)
        .order_by(d.c.route)
    ).all()
    return tuple(
        RouteSummary(
            route=str(r),
            calls=int(n),
            escalation_rate=int(esc) / int(nr) if nr else None,
            actual_usd=float(cost),
            savings_usd=float(sav),
        )
        for r, n, nr, esc, cost, sav in rows
    )
