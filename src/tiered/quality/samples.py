"""Audit-sample rows: written once their decision row exists, and the weight a grade of one carries.

The decision writer is asynchronous (a queue, batches, a spool when the database is down), so an audit pick
cannot be inserted when it is made: ``audit_samples.decision_id`` references ``decisions.id``. The
:class:`SampleRecorder` keeps picks in memory and, on each :meth:`~SampleRecorder.flush` (run from a
background thread, and promptly after the writer reports a batch committed), inserts the rows whose decision
is stored. A pick whose decision is still missing after ``ttl_s`` of successful checks is given up, counted
and logged (its decision was lost or sits in a spool for longer than that).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .sampler import AuditPick, pick_weight

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from tiered.config import Settings

__all__ = ["SampleRecorder", "SampleStats", "sample_weight"]

log = logging.getLogger("tiered.quality")

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class SampleStats:
    picked: int
    recorded: int
    expired: int
    waiting: int


@dataclass(slots=True)
class _Waiting:
    pick: AuditPick
    created_at: datetime
    since: float


class SampleRecorder:
    def __init__(self, engine: Engine, *, ttl_s: float = 3600.0) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiting] = {}
        self._picked = self._recorded = self._expired = 0

    def add(self, pick: AuditPick, created_at: datetime) -> None:
        """Remember ``pick`` until its decision row exists. Cheap: safe on the request path."""
        with self._lock:
            self._picked += 1
            self._waiting[pick.decision_id] = _Waiting(pick, created_at, time.monotonic())

    def stats(self) -> SampleStats:
        with self._lock:
            return SampleStats(self._picked, self._recorded, self._expired, len(self._waiting))

    def flush(self) -> int:
        """Insert the rows of picks whose decision is stored; return how many were inserted. Raises on a
        database error (the picks stay waiting)."""
        import sqlalchemy as sa

        from tiered.store.schema import audit_samples, decisions

        with self._lock:
            waiting = list(self._waiting.values())
        if not waiting:
            return 0
        ids = [w.pick.decision_id for w in waiting]
        stored: set[str] = set()
        with self._engine.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                stored.update(conn.execute(sa.select(decisions.c.id).where(decisions.c.id.in_(chunk))).scalars())
            rows = [
                {
                    "decision_id": w.pick.decision_id,
                    "route": w.pick.route,
                    "sampler": w.pick.sampler,
                    "probability": w.pick.probability,
                    "status": PENDING,
                    "created_at": w.created_at,
                }
                for w in waiting
                if w.pick.decision_id in stored
            ]
            if rows:
                conn.execute(_insert_ignore(conn.dialect.name, audit_samples), rows)
        now = time.monotonic()
        expired = [w for w in waiting if w.pick.decision_id not in stored and now - w.since > self._ttl]
        with self._lock:
            for w in waiting:
                if w.pick.decision_id in stored or w in expired:
                    self._waiting.pop(w.pick.decision_id, None)
            self._recorded += len(rows)
            self._expired += len(expired)
        if expired:
            log.warning(
                "%d audit sample(s) given up: their decision was not stored within %.0fs", len(expired), self._ttl
            )
        return len(rows)


def _insert_ignore(dialect_name: str, table: sa.Table) -> sa.Executable:
    from sqlalchemy.dialects import postgresql, sqlite

    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def sample_weight(engine: Engine, settings: Settings, decision_id: str) -> float:
    """The weight a grade of ``decision_id`` carries: relative inverse inclusion probability when it is an
    audit sample of a configured route, else 1."""
    import sqlalchemy as sa

    from tiered.store.schema import audit_samples

    with engine.connect() as conn:
        row = conn.execute(
            sa.select(audit_samples.c.route, audit_samples.c.probability).where(
                audit_samples.c.decision_id == decision_id
            )
        ).first()
    if row is None or row.probability is None:
        return 1.0
    route = settings.routes.get(row.route)
    return pick_weight(route, float(row.probability)) if route is not None else 1.0
