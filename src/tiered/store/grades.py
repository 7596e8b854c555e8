"""Grades of shipped answers and the audit samples waiting for them: one place that writes and reads both.

The judge worker, ``tiered grade``, ``POST /v1/tiered/decisions/{id}/grade`` and the dashboard's grading view
all record through :func:`record_grade`, so every verdict lands in the same rows whoever gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tiered.errors import InvalidRequestError, NotFoundError

from .schema import GraderKind, GradeVerdict

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["AuditItem", "GradeRecord", "list_grades", "pending_audits", "record_grade", "undo_grade"]


@dataclass(frozen=True, slots=True)
class GradeRecord:
    id: int
    decision_id: str
    verdict: GradeVerdict
    grader_kind: GraderKind
    grader: str | None
    reason: str | None
    weight: float
    cost_usd: float | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditItem:
    """An audit sample waiting for a verdict, with the text that was kept for it (if any)."""

    decision_id: str
    route: str
    created_at: datetime
    answered_by: str | None
    confidence: float | None
    request_text: str | None
    answer_text: str | None
    probability: float | None


def _verdict(value: str | GradeVerdict) -> GradeVerdict:
    try:
        return GradeVerdict(value)
    except ValueError:
        allowed = ", ".join(v.value for v in GradeVerdict)
        raise InvalidRequestError(f"verdict: must be one of {allowed}, got {value!r}") from None


def _grader_kind(value: str | GraderKind) -> GraderKind:
    try:
        return GraderKind(value)
    except ValueError:
        allowed = ", ".join(g.value for g in GraderKind)
        raise InvalidRequestError(f"grader_kind: must be one of {allowed}, got {value!r}") from None


def record_grade(
    engine: Engine,
    decision_id: str,
    verdict: str | GradeVerdict,
    grader_kind: str | GraderKind,
    *,
    grader: str | None = None,
    reason: str | None = None,
    weight: float = 1.0,
    cost_usd: float | None = None,
    now: datetime | None = None,
) -> GradeRecord:
    """Store one verdict on ``decision_id`` and close its audit sample, if it had one.

    ``weight`` is the inverse of the sample's inclusion probability when a stratified sampler picked it (so
    rates estimated over grades stay unbiased); 1 otherwise. Raises NotFoundError for an unknown decision."""
    import sqlalchemy as sa

    from .schema import audit_samples, decisions, grades

    checked_verdict = _verdict(verdict)
    kind = _grader_kind(grader_kind)
    if weight <= 0:
        raise InvalidRequestError("weight: must be positive")
    created = now or datetime.now(UTC)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(decisions.c.id).where(decisions.c.id == decision_id)).first()
        if exists is None:
            raise NotFoundError(f"decision {decision_id!r} not found (it may not be written yet)")
        result = conn.execute(
            sa.insert(grades).values(
                decision_id=decision_id,
                verdict=checked_verdict.value,
                grader_kind=kind.value,
                grader=grader,
                reason=reason,
                weight=weight,
                cost_usd=cost_usd,
                created_at=created,
            )
        )
        conn.execute(sa.update(audit_samples).where(audit_samples.c.decision_id == decision_id).values(status="graded"))
        key = result.inserted_primary_key
    return GradeRecord(
        id=int(key[0]) if key else 0,
        decision_id=decision_id,
        verdict=checked_verdict,
        grader_kind=kind,
        grader=grader,
        reason=reason,
        weight=weight,
        cost_usd=cost_usd,
        created_at=created,
    )


def _grade(row: Any) -> GradeRecord:
    return GradeRecord(
        id=row["id"],
        decision_id=row["decision_id"],
        verdict=GradeVerdict(row["verdict"]),
        grader_kind=GraderKind(row["grader_kind"]),
        grader=row["grader"],
        reason=row["reason"],
        weight=row["weight"],
        cost_usd=row["cost_usd"],
        created_at=row["created_at"],
    )


def undo_grade(
    engine: Engine,
    decision_id: str,
    *,
    kinds: tuple[GraderKind, ...] = (GraderKind.HUMAN,),
    grader: str | None = None,
) -> tuple[GradeRecord, int]:
    """Delete the newest grade on ``decision_id`` given by a grader of ``kinds`` (and by ``grader`` when set);
    returns it with the number of grades left. An audit sample left without grades waits for a verdict again.

    A grade is a count in the false-confident rate, not an event: deleting it takes it out of every later
    estimate. A threshold change the controller already made from it stays (it is recorded with its evidence);
    the controller's next runs see the corrected evidence. Raises NotFoundError when there is nothing to undo."""
    import sqlalchemy as sa

    from .schema import audit_samples, grades

    query = sa.select(grades).where(
        grades.c.decision_id == decision_id, grades.c.grader_kind.in_([k.value for k in kinds])
    )
    if grader is not None:
        query = query.where(grades.c.grader == grader)
    with engine.begin() as conn:
        row = conn.execute(query.order_by(grades.c.id.desc()).limit(1)).mappings().first()
        if row is None:
            who = f" by {grader}" if grader is not None else ""
            raise NotFoundError(f"decision {decision_id!r} has no grade{who} to undo")
        conn.execute(sa.delete(grades).where(grades.c.id == row["id"]))
        left = conn.execute(
            sa.select(sa.func.count()).select_from(grades).where(grades.c.decision_id == decision_id)
        ).scalar_one()
        if left == 0:
            conn.execute(
                sa.update(audit_samples).where(audit_samples.c.decision_id == decision_id).values(status="pending")
            )
    return _grade(row), int(left)


def list_grades(engine: Engine, decision_id: str) -> list[GradeRecord]:
    import sqlalchemy as sa

    from .schema import grades

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(grades).where(grades.c.decision_id == decision_id).order_by(grades.c.id)
        ).mappings()
        return [_grade(r) for r in rows]


def pending_audits(engine: Engine, *, route: str | None = None, limit: int = 50) -> list[AuditItem]:
    """Audit samples still waiting for a verdict, oldest first."""
    import sqlalchemy as sa

    from .schema import audit_samples, decisions

    query = (
        sa.select(
            audit_samples.c.decision_id,
            audit_samples.c.route,
            audit_samples.c.created_at,
            audit_samples.c.probability,
            decisions.c.answered_by,
            decisions.c.confidence,
            decisions.c.request_text,
            decisions.c.answer_text,
        )
        .join(decisions, decisions.c.id == audit_samples.c.decision_id)
        .where(audit_samples.c.status == "pending")
        .order_by(audit_samples.c.created_at)
        .limit(limit)
    )
    if route is not None:
        query = query.where(audit_samples.c.route == route)
    with engine.connect() as conn:
        return [
            AuditItem(
                decision_id=r["decision_id"],
                route=r["route"],
                created_at=r["created_at"],
                answered_by=r["answered_by"],
                confidence=r["confidence"],
                request_text=r["request_text"],
                answer_text=r["answer_text"],
                probability=r["probability"],
            )
            for r in conn.execute(query).mappings()
        ]
