"""The ``learned`` confidence's versions, and the graded decisions it is trained on.

:func:`graded_examples` reads what training needs from the decision log: shipped triage answers of one route
and tier that an audit graded ``correct`` or ``incorrect`` (``unsure`` teaches nothing) and whose request and
answer text were kept (audit samples keep them), one row per decision with its latest grade.
:func:`record_version` stores every version trained, promoted or not; :func:`list_versions` reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .schema import GradeVerdict

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["GradedExample", "VersionRecord", "graded_examples", "list_versions", "record_version"]


@dataclass(frozen=True, slots=True)
class GradedExample:
    decision_id: str
    created_at: datetime
    confidence: float | None
    request_text: str
    answer_text: str
    correct: bool


@dataclass(frozen=True, slots=True)
class VersionRecord:
    version: int
    route: str
    tier: int
    kind: str
    promoted: bool
    reason: str
    model: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime


def graded_examples(engine: Engine, route: str, tier: int = 0) -> list[GradedExample]:
    """Graded shipped answers of ``route``'s ``tier`` with their text, oldest first (latest grade wins)."""
    import sqlalchemy as sa

    from .schema import decisions, grades

    latest = (
        sa.select(grades.c.decision_id, sa.func.max(grades.c.id).label("grade_id"))
        .where(grades.c.verdict.in_([GradeVerdict.CORRECT.value, GradeVerdict.INCORRECT.value]))
        .group_by(grades.c.decision_id)
        .subquery()
    )
    query = (
        sa.select(
            decisions.c.id,
            decisions.c.created_at,
            decisions.c.confidence,
            decisions.c.request_text,
            decisions.c.answer_text,
            grades.c.verdict,
        )
        .join(latest, latest.c.decision_id == decisions.c.id)
        .join(grades, grades.c.id == latest.c.grade_id)
        .where(
            decisions.c.route == route,
            decisions.c.shipped.is_(True),
            decisions.c.answer_tier == tier,
            decisions.c.request_text.is_not(None),
            decisions.c.answer_text.is_not(None),
        )
        .order_by(decisions.c.created_at, decisions.c.id)
    )
    with engine.connect() as conn:
        return [
            GradedExample(
                decision_id=row.id,
                created_at=row.created_at,
                confidence=row.confidence,
                request_text=row.request_text,
                answer_text=row.answer_text,
                correct=row.verdict == GradeVerdict.CORRECT.value,
            )
            for row in conn.execute(query)
        ]


def record_version(
    engine: Engine,
    *,
    route: str,
    tier: int,
    kind: str,
    promoted: bool,
    reason: str,
    model: Mapping[str, Any],
    metrics: Mapping[str, Any],
    now: datetime | None = None,
) -> VersionRecord:
    """Store one trained version; its id is the version number."""
    from .schema import confidence_versions

    created_at = now or datetime.now(UTC)
    with engine.begin() as conn:
        result = conn.execute(
            confidence_versions.insert().values(
                route=route,
                tier=tier,
                kind=kind,
                promoted=promoted,
                reason=reason,
                model=dict(model),
                metrics=dict(metrics),
                created_at=created_at,
            )
        )
        key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the new confidence version")
    return VersionRecord(int(key[0]), route, tier, kind, promoted, reason, dict(model), dict(metrics), created_at)


def list_versions(engine: Engine, route: str | None = None) -> list[VersionRecord]:
    """Every recorded version (of ``route``, if given), newest first."""
    import sqlalchemy as sa

    from .schema import confidence_versions as table

    query = sa.select(table).order_by(table.c.id.desc())
    if route is not None:
        query = query.where(table.c.route == route)
    with engine.connect() as conn:
        return [
            VersionRecord(
                version=row.id,
                route=row.route,
                tier=row.tier,
                kind=row.kind,
                promoted=row.promoted,
                reason=row.reason,
                model=row.model,
                metrics=row.metrics,
                created_at=row.created_at,
            )
            for row in conn.execute(query)
        ]
