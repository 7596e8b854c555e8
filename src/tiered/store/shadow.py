"""The ``shadow_results`` table: writing a shadow (or explored) triage's outcome, reading them back, the shadow spend.

One row per shadow-triaged request (see :mod:`tiered.quality.shadow`); the table is defined with the others in
:mod:`tiered.store.schema` (revision 0006). Every function reads or writes the database: call them off the
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["ShadowRow", "read_shadow_rows", "record_shadow", "shadow_spent"]


@dataclass(frozen=True, slots=True)
class ShadowRow:
    """What the first tier said to one request its route's final tier answered, and the judge's verdict."""

    decision_id: str
    route: str
    slice: str | None
    model: str
    confidence: float | None  # as compared with a threshold (calibrated when the tier has a map)
    problem: str | None  # an escalation reason: the triage could not ship at any threshold
    verdict: str | None  # correct / incorrect / unsure; None without a triage answer to judge
    triage_cost_usd: float | None
    final_cost_usd: float | None
    judge_cost_usd: float | None
    created_at: datetime
    source: str = "shadow"  # or "explore": a live route's escalated triage read to its end (tiered.quality.explore)
    weight: float = 1.0  # inverse-propensity weight: 1 / explore_rate for an explored row


def record_shadow(engine: Engine, row: ShadowRow) -> bool:
    """Insert ``row``; ``False`` when its decision already has one (another replica, a retry)."""
    import dataclasses

    import sqlalchemy as sa

    from tiered.store.schema import shadow_results as t

    with engine.begin() as conn:
        seen = conn.execute(sa.select(t.c.decision_id).where(t.c.decision_id == row.decision_id)).first()
        if seen is not None:
            return False
        conn.execute(sa.insert(t).values(**dataclasses.asdict(row)))
    return True


def shadow_spent(engine: Engine, route: str, since: datetime, source: str = "shadow") -> float:
    """What the shadow triage (or, with ``source="explore"``, exploration) and its judge cost on ``route`` since
    ``since`` (every replica's rows)."""
    import sqlalchemy as sa

    from tiered.store.schema import shadow_results as t

    spent = sa.func.coalesce(t.c.triage_cost_usd, 0.0) + sa.func.coalesce(t.c.judge_cost_usd, 0.0)
    query = sa.select(sa.func.coalesce(sa.func.sum(spent), 0.0)).where(
        t.c.route == route, t.c.created_at >= since, t.c.source == source
    )
    with engine.connect() as conn:
        return float(conn.execute(query).scalar_one())


def read_shadow_rows(
    engine: Engine,
    *,
    route: str | None = None,
    since: datetime | None = None,
    slice_: str | None = None,
    limit: int | None = None,
    source: str | None = "shadow",
) -> list[ShadowRow]:
    """Shadow rows, newest first; ``slice_`` keeps one slice of the route; ``source``: ``shadow`` rows (the
    default), ``explore`` rows, or (``None``) both."""
    import sqlalchemy as sa

    from tiered.store.schema import shadow_results as t

    query = sa.select(t).order_by(t.c.created_at.desc(), t.c.decision_id.desc())
    if route is not None:
        query = query.where(t.c.route == route)
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if slice_ is not None:
        query = query.where(t.c.slice == slice_)
    if source is not None:
        query = query.where(t.c.source == source)
    if limit is not None:
        query = query.limit(limit)
    names = list(ShadowRow.__dataclass_fields__)
    with engine.connect() as conn:
        return [ShadowRow(**{name: row[name] for name in names}) for row in conn.execute(query).mappings()]
