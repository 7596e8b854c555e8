"""The dashboard's aggregates over a window, in SQL that runs on SQLite and PostgreSQL alike.

The words and definitions are those of :mod:`tiered.store.report` (``tiered report``), so the page and the
command agree on the same data: *routed* calls exclude passthrough, the *escalation rate* is escalated routed
calls over routed calls, *savings* are counterfactual minus actual cost over calls where both are known, and an
unknown cost is counted, never taken as zero. What the dashboard adds is a *scope*: a route, and for viewers
who may only see their own traffic, a key; and a time series of the same figures, bucketed by
:class:`~tiered.dashboard.window.Window`.

Time buckets and confidence buckets use ``CASE`` ladders over bound values rather than date or floor functions,
which differ between the two databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa

from tiered.decision import AttemptRole, Outcome
from tiered.store.report import ConfidenceBucket, CostSummary, ReasonCount
from tiered.store.schema import attempts as a
from tiered.store.schema import decisions as d

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["HISTOGRAM_BUCKETS", "Overview", "Scope", "Series", "SeriesPoint", "overview", "series"]

HISTOGRAM_BUCKETS: Final = 20
"""Confidence buckets of 0.05: the threshold controller's step, so every threshold falls on an edge."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which decisions a view covers: ``since <= created_at < until`` (either bound optional), one route or all
    (``""`` is passthrough traffic), one key or all."""

    since: datetime | None
    until: datetime | None = None
    route: str | None = None
    key_id: str | None = None

    def where(self) -> sa.ColumnElement[bool]:
        conditions: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(d.c.created_at >= self.since)
        if self.until is not None:
            conditions.append(d.c.created_at < self.until)
        if self.route is not None:
            conditions.append(d.c.route == self.route)
        if self.key_id is not None:
            conditions.append(d.c.key_id == self.key_id)
        return sa.and_(sa.true(), *conditions)


@dataclass(frozen=True, slots=True)
class Overview:
    """The headline figures of a scope."""

    calls: int
    routed_calls: int
    passthrough_calls: int
    failed_calls: int
    shipped_calls: int
    escalated_calls: int
    escalation_rate: float | None
    input_tokens: int
    output_tokens: int
    cost: CostSummary
    reasons: tuple[ReasonCount, ...]
    histogram: tuple[ConfidenceBucket, ...]
    """Confidences of the first tier's triage attempts; ``shipped`` counts those whose answer shipped."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One time bucket ``[start, end)``; costs as in :class:`CostSummary`. ``partial``: the bucket is still
    filling (it ends after ``now``), so its figures are provisional: a call is stored when its response ends,
    and escalated calls, being slower, arrive last, which pulls a partial bucket's escalation rate down."""

    start: datetime
    end: datetime
    calls: int
    routed_calls: int
    escalated_calls: int
    escalation_rate: float | None
    actual_usd: float
    counterfactual_usd: float
    savings_usd: float
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Series:
    bucket_seconds: float
    points: tuple[SeriesPoint, ...]


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _sum(column: sa.ColumnElement[float] | sa.Column[float]) -> sa.ColumnElement[float]:
    return sa.func.coalesce(sa.func.sum(column), 0.0)


_ROUTED: Final = sa.not_(d.c.passthrough)
_BOTH_COSTS: Final = sa.and_(d.c.cost_usd.is_not(None), d.c.counterfactual_cost_usd.is_not(None))


def overview(engine: Engine, scope: Scope) -> Overview:
    where = scope.where()
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(),
                _count(d.c.passthrough),
                _count(d.c.answered_by.is_(None)),
                _count(d.c.shipped),
                _count(sa.and_(d.c.escalated, _ROUTED)),
                _sum(d.c.input_tokens),
                _sum(d.c.output_tokens),
                _sum(d.c.cost_usd),
                _sum(d.c.counterfactual_cost_usd),
                _sum(sa.case((_BOTH_COSTS, d.c.counterfactual_cost_usd - d.c.cost_usd))),
                _sum(sa.case((_BOTH_COSTS, d.c.counterfactual_cost_usd))),
                _count(_BOTH_COSTS),
                _count(d.c.cost_usd.is_(None)),
                _sum(sa.case((_BOTH_COSTS, d.c.cache_penalty_usd))),
            ).where(where)
        ).one()
        calls, passthrough, failed, shipped, escalated = (int(v) for v in row[:5])
        input_tokens, output_tokens = int(row[5]), int(row[6])
        actual, counterfactual, savings, base = (float(v) for v in row[7:11])
        routed = calls - passthrough
        return Overview(
            calls=calls,
            routed_calls=routed,
            passthrough_calls=passthrough,
            failed_calls=failed,
            shipped_calls=shipped,
            escalated_calls=escalated,
            escalation_rate=escalated / routed if routed else None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=CostSummary(
                actual_usd=actual,
                counterfactual_usd=counterfactual,
                savings_usd=savings,
                savings_pct=100.0 * savings / base if base else None,
                costed_calls=int(row[11]),
                unknown_cost_calls=int(row[12]),
                cache_penalty_usd=float(row[13]),
            ),
            reasons=_reasons(conn, where, escalated),
            histogram=_histogram(conn, where),
        )


def _reasons(conn: Connection, where: sa.ColumnElement[bool], escalated: int) -> tuple[ReasonCount, ...]:
    reason = sa.func.coalesce(d.c.reason, "unknown")
    rows = conn.execute(sa.select(reason, sa.func.count()).where(where, d.c.escalated, _ROUTED).group_by(reason)).all()
    counts = [ReasonCount(str(r), int(n), int(n) / escalated) for r, n in rows]
    return tuple(sorted(counts, key=lambda c: (-c.calls, c.reason)))


def _histogram(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[ConfidenceBucket, ...]:
    # From the attempts, not decisions.confidence: a decision keeps a confidence only when it shipped, and the
    # point of the histogram is where the escalated answers sit against the threshold.
    n = HISTOGRAM_BUCKETS
    bucket = sa.case(*((a.c.confidence < (i + 1) / n, i) for i in range(n - 1)), else_=n - 1)
    rows = conn.execute(
        sa.select(bucket, sa.func.count(), _count(a.c.outcome == Outcome.SHIPPED.value))
        .select_from(a.join(d, a.c.decision_id == d.c.id))
        .where(where, a.c.role == AttemptRole.TRIAGE.value, a.c.tier == 0, a.c.confidence.is_not(None))
        .group_by(bucket)
    ).all()
    found = {int(b): (int(calls), int(shipped)) for b, calls, shipped in rows}
    return tuple(ConfidenceBucket(i / n, (i + 1) / n, *found.get(i, (0, 0))) for i in range(n))


def series(engine: Engine, scope: Scope, edges: Sequence[datetime], *, now: datetime | None = None) -> Series:
    """The scope's figures per bucket between consecutive ``edges`` (the scope's own time bounds are replaced
    by the first and last edge); with ``now``, buckets that end after it are marked ``partial``."""
    if len(edges) < 2:
        raise ValueError("series: need at least two edges")
    bounded = Scope(since=edges[0], until=edges[-1], route=scope.route, key_id=scope.key_id)
    inner = edges[1:-1]
    bucket = sa.case(*((d.c.created_at < edge, i) for i, edge in enumerate(inner)), else_=len(inner))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                bucket,
                sa.func.count(),
                _count(_ROUTED),
                _count(sa.and_(d.c.escalated, _ROUTED)),
                _sum(d.c.cost_usd),
                _sum(d.c.counterfactual_cost_usd),
                _sum(sa.case((_BOTH_COSTS, d.c.counterfactual_cost_usd - d.c.cost_usd))),
            )
            .where(bounded.where())
            .group_by(bucket)
        ).all()
    found = {int(r[0]): r for r in rows}
    points = []
    for i in range(len(edges) - 1):
        r = found.get(i)
        calls, routed, escalated = (int(r[1]), int(r[2]), int(r[3])) if r else (0, 0, 0)
        points.append(
            SeriesPoint(
                start=edges[i],
                end=edges[i + 1],
                calls=calls,
                routed_calls=routed,
                escalated_calls=escalated,
                escalation_rate=escalated / routed if routed else None,
                actual_usd=float(r[4]) if r else 0.0,
                counterfactual_usd=float(r[5]) if r else 0.0,
                savings_usd=float(r[6]) if r else 0.0,
                partial=now is not None and edges[i + 1] > now,
            )
        )
    width = (edges[1] - edges[0]).total_seconds()
    return Series(bucket_seconds=width, points=tuple(points))
