"""The dashboard's lists: recent decisions, one decision in full, and alerts (the threshold history is the
quality loop's, :func:`tiered.quality.thresholds.history`).

Each reads the store as it is; text (request and answer) appears only where the store kept it (audit samples,
or ``store_content``), and never in a list: only a decision's own detail carries it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from tiered.store.report import outcome_case
from tiered.store.schema import alerts, attempts, audit_samples, decisions, grades

from .queries import Scope

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "GRADE_FILTERS",
    "AlertRow",
    "DecisionFilter",
    "DecisionPage",
    "DecisionRow",
    "decision_detail",
    "decision_page",
    "decision_route",
    "open_alert",
    "recent_alerts",
    "recent_decisions",
]

GRADE_FILTERS: Final = ("correct", "incorrect", "unsure", "pending", "graded")
"""A decision's grade, as the table filters on it: its latest verdict, ``pending`` (an audit sample without a
verdict yet) or ``graded`` (any verdict)."""

d = decisions


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One line of the decisions table. ``outcome`` is one of ``tiered.store.report.OUTCOMES``; ``verdict``
    is the latest grade, ``audit`` the audit sample's status (``pending``, ``graded``), when there is one.
    ``confidence`` is the shipped answer's, or for an escalated call the last triage confidence read."""

    id: str
    created_at: datetime
    route: str
    answered_by: str | None
    answer_tier: int | None
    outcome: str
    reason: str | None
    confidence: float | None
    threshold: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    counterfactual_cost_usd: float | None
    latency_ms: float
    stream: bool
    verdict: str | None
    audit: str | None


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    created_at: datetime
    kind: str
    route: str | None
    severity: str
    message: str
    details: Any
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Which decisions the table lists: ``outcome`` one of ``tiered.store.report.OUTCOMES``, ``grade`` one of
    :data:`GRADE_FILTERS` (either ``None``: all)."""

    outcome: str | None = None
    grade: str | None = None

    def where(self) -> sa.ColumnElement[bool]:
        conditions: list[sa.ColumnElement[bool]] = []
        if self.outcome is not None:
            conditions.append(outcome_case() == self.outcome)
        verdict = _latest_verdict()
        if self.grade == "pending":
            conditions.append(sa.and_(_audit_status() == "pending", verdict.is_(None)))
        elif self.grade == "graded":
            conditions.append(verdict.is_not(None))
        elif self.grade is not None:
            conditions.append(verdict == self.grade)
        return sa.and_(sa.true(), *conditions)


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """One page of the table: ``rows`` newest first; ``total`` matching rows in the scope; ``newer`` of them
    newer than this page (so the page shows rows ``newer + 1`` to ``newer + len(rows)``)."""

    rows: list[DecisionRow]
    total: int
    newer: int


def _latest_verdict() -> sa.ScalarSelect[Any]:
    return (
        sa.select(grades.c.verdict)
        .where(grades.c.decision_id == d.c.id)
        .order_by(grades.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _audit_status() -> sa.ScalarSelect[Any]:
    return sa.select(audit_samples.c.status).where(audit_samples.c.decision_id == d.c.id).scalar_subquery()


def _older_than(before: datetime, before_id: str | None) -> sa.ColumnElement[bool]:
    """Rows after ``(before, before_id)`` in the table's order (newest first; ids break ties)."""
    if before_id is None:
        return d.c.created_at < before
    return sa.or_(d.c.created_at < before, sa.and_(d.c.created_at == before, d.c.id < before_id))


def decision_page(
    engine: Engine,
    scope: Scope,
    where: DecisionFilter,
    *,
    limit: int = 50,
    before: datetime | None = None,
    before_id: str | None = None,
) -> DecisionPage:
    """A page of the table: ``limit`` rows after the cursor ``(before, before_id)`` (none: the newest)."""
    rows = recent_decisions(engine, scope, limit=limit, before=before, before_id=before_id, where=where)
    matching = sa.select(sa.func.count()).select_from(d).where(scope.where(), where.where())
    with engine.connect() as conn:
        total = int(conn.execute(matching).scalar_one())
        newer = 0
        if before is not None:
            newer = int(conn.execute(matching.where(sa.not_(_older_than(before, before_id)))).scalar_one())
    return DecisionPage(rows=rows, total=total, newer=newer)


def recent_decisions(
    engine: Engine,
    scope: Scope,
    *,
    limit: int = 50,
    before: datetime | None = None,
    before_id: str | None = None,
    where: DecisionFilter | None = None,
) -> list[DecisionRow]:
    """The newest decisions in ``scope`` (after the cursor ``(before, before_id)`` when given, to page back;
    only those ``where`` lets through), newest first."""
    latest_verdict = _latest_verdict()
    # a decision keeps a confidence only when it shipped; an escalated one shows its last triage's
    last_confidence = (
        sa.select(attempts.c.confidence)
        .where(attempts.c.decision_id == d.c.id, attempts.c.confidence.is_not(None))
        .order_by(attempts.c.idx.desc())
        .limit(1)
        .scalar_subquery()
    )
    audit = _audit_status()
    query = (
        sa.select(
            d.c.id,
            d.c.created_at,
            d.c.route,
            d.c.answered_by,
            d.c.answer_tier,
            outcome_case().label("outcome"),
            d.c.reason,
            sa.func.coalesce(d.c.confidence, last_confidence).label("confidence"),
            d.c.threshold,
            d.c.input_tokens,
            d.c.output_tokens,
            d.c.cost_usd,
            d.c.counterfactual_cost_usd,
            d.c.latency_ms,
            d.c.stream,
            latest_verdict.label("verdict"),
            audit.label("audit"),
        )
        .where(scope.where(), (where or DecisionFilter()).where())
        .order_by(d.c.created_at.desc(), d.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(_older_than(before, before_id))
    with engine.connect() as conn:
        return [DecisionRow(**dict(r)) for r in conn.execute(query).mappings()]


def decision_detail(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    """The decision as the decision API serves it, with its grades and audit sample; ``None`` if absent."""
    from tiered.store.grades import list_grades
    from tiered.store.lookup import load_decision

    found = load_decision(engine, decision_id)
    if found is None:
        return None
    found["grades"] = [
        {**dataclasses.asdict(g), "created_at": g.created_at.isoformat()} for g in list_grades(engine, decision_id)
    ]
    with engine.connect() as conn:
        sample = (
            conn.execute(
                sa.select(audit_samples.c.sampler, audit_samples.c.probability, audit_samples.c.status).where(
                    audit_samples.c.decision_id == decision_id
                )
            )
            .mappings()
            .first()
        )
    found["audit"] = dict(sample) if sample is not None else None
    return found


def recent_alerts(engine: Engine, *, route: str | None, limit: int = 20) -> list[AlertRow]:
    """The newest alerts (of ``route`` and those about no route in particular, or all), newest first."""
    query = sa.select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
    if route is not None:
        query = query.where(sa.or_(alerts.c.route == route, alerts.c.route.is_(None)))
    with engine.connect() as conn:
        return [AlertRow(**dict(r)) for r in conn.execute(query.limit(limit)).mappings()]


def open_alert(engine: Engine, kind: str, routes: list[str]) -> AlertRow | None:
    """The newest alert of ``kind`` on one of ``routes`` that is still open (not resolved), else ``None``."""
    query = (
        sa.select(alerts)
        .where(alerts.c.kind == kind, alerts.c.resolved_at.is_(None), alerts.c.route.in_(routes))
        .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return AlertRow(**dict(row)) if row is not None else None


def decision_route(engine: Engine, decision_id: str) -> str | None:
    """The route of a stored decision (``None`` when it is not stored)."""
    with engine.connect() as conn:
        route = conn.execute(sa.select(d.c.route).where(d.c.id == decision_id)).scalar_one_or_none()
    return None if route is None else str(route)
