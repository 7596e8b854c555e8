"""Threshold changes in the database: the one shared state of the threshold controller.

Each change is a row of ``threshold_changes`` (old and new value, a reason a person can read, the evidence as
JSON); a route's threshold is the ``new_threshold`` of its newest row, or its configured ``threshold`` when it
has none or the newest is a reset. Every replica reads the newest rows every few seconds
(:class:`ThresholdSync`) and applies them with ``router.set_threshold``, so all replicas sharing a database
converge, and a restart resumes where the controller left off.

A controller's change is *conditional* (:func:`record_change` with ``expected_last_id``): it is kept only if
the route's newest change is still the one the controller looked at, so two replicas that see the same
evidence raise the threshold once, not twice. The check runs under a write lock: SQLite's (the insert comes
first and holds it) or, on PostgreSQL, a transaction-scoped advisory lock per route.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from tiered.config import Settings
    from tiered.router import Router

__all__ = [
    "ANY",
    "ThresholdChange",
    "ThresholdSync",
    "advisory_lock",
    "current_changes",
    "current_slice_changes",
    "effective_threshold",
    "history",
    "record_change",
]

log = logging.getLogger("tiered.quality")

ANY: Final = -1
"""``expected_last_id`` for an unconditional change (a person's ``tiered threshold set``)."""


@dataclass(frozen=True, slots=True)
class ThresholdChange:
    id: int
    route: str
    tier: int | None
    old_threshold: float | None
    new_threshold: float
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    slice: str | None = None  # a slice's own threshold; None: the route's

    @property
    def reset(self) -> bool:
        """A reset hands the route back to its configured threshold."""
        return self.evidence.get("reset") is True


def effective_threshold(settings: Settings, route: str, newest: ThresholdChange | None) -> float:
    configured = settings.route(route).threshold
    if newest is None or newest.reset:
        return configured
    return newest.new_threshold


def advisory_lock(conn: Connection, name: str) -> None:
    """On PostgreSQL, serialise transactions that name the same lock until they end (a no-op on SQLite,
    where the first write of a transaction takes the database's single write lock)."""
    import sqlalchemy as sa

    if conn.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _change(row: Any) -> ThresholdChange:
    evidence = row.evidence if isinstance(row.evidence, dict) else {}
    return ThresholdChange(
        id=int(row.id),
        route=row.route,
        tier=row.tier,
        old_threshold=row.old_threshold,
        new_threshold=float(row.new_threshold),
        reason=row.reason,
        evidence=evidence,
        created_at=row.created_at,
        slice=row.slice,
    )


def current_changes(engine: Engine) -> dict[str, ThresholdChange]:
    """The newest change of every route that has one (of the route's own threshold, not a slice's)."""
    import sqlalchemy as sa

    from tiered.store.schema import threshold_changes as t

    newest = sa.select(sa.func.max(t.c.id)).where(t.c.slice.is_(None)).group_by(t.c.route).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.id.in_(newest))).all()
    return {row.route: _change(row) for row in rows}


def current_slice_changes(engine: Engine) -> dict[tuple[str, str], ThresholdChange]:
    """The newest change of every (route, slice) with a threshold of its own."""
    import sqlalchemy as sa

    from tiered.store.schema import threshold_changes as t

    newest = (
        sa.select(sa.func.max(t.c.id)).where(t.c.slice.is_not(None)).group_by(t.c.route, t.c.slice).scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.id.in_(newest))).all()
    return {(row.route, row.slice): _change(row) for row in rows}


def history(engine: Engine, route: str | None = None, *, limit: int = 20) -> list[ThresholdChange]:
    """The newest changes first."""
    import sqlalchemy as sa

    from tiered.store.schema import threshold_changes as t

    query = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    if route is not None:
        query = query.where(t.c.route == route)
    with engine.connect() as conn:
        return [_change(row) for row in conn.execute(query)]


def record_change(
    engine: Engine,
    *,
    route: str,
    old: float | None,
    new: float,
    reason: str,
    evidence: dict[str, Any],
    expected_last_id: int | None,
    now: datetime | None = None,
    slice_: str | None = None,
) -> ThresholdChange | None:
    """Record a change of ``route``'s threshold; ``None`` when ``expected_last_id`` (the id of the route's
    newest change the caller saw, ``None`` for none, :data:`ANY` for unconditional) is no longer the newest:
    another replica changed it first. With ``slice_``: that slice's own threshold, its changes a sequence of
    their own."""
    import sqlalchemy as sa

    from tiered.store.schema import threshold_changes as t

    created = now or datetime.now(UTC)
    with engine.connect() as conn, conn.begin() as txn:
        advisory_lock(conn, f"tiered-threshold:{route}" + (f"/{slice_}" if slice_ is not None else ""))
        result = conn.execute(
            sa.insert(t).values(
                route=route,
                tier=None,
                old_threshold=old,
                new_threshold=new,
                reason=reason,
                evidence=evidence,
                created_at=created,
                slice=slice_,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        new_id = int(key[0])
        if expected_last_id != ANY:
            previous = conn.execute(
                sa.select(sa.func.max(t.c.id)).where(
                    t.c.route == route, t.c.id < new_id, t.c.slice.is_(None) if slice_ is None else t.c.slice == slice_
                )
            ).scalar_one_or_none()
            if previous != expected_last_id:
                txn.rollback()
                return None
    return ThresholdChange(new_id, route, None, old, new, reason, evidence, created, slice_)


class ThresholdSync:
    """Applies the newest recorded threshold of every configured route to a router (one per replica)."""

    def __init__(self, settings: Settings, router: Router, engine: Engine) -> None:
        self._settings = settings
        self._router = router
        self._engine = engine
        self.applied: dict[str, float | None] = {}
        self.applied_slices: dict[tuple[str, str], float | None] = {}

    def poll(self) -> dict[str, float | None]:
        """Read and apply; returns the overrides now in force (``None``: the configured threshold)."""
        changes = current_changes(self._engine)
        for route in self._settings.routes:
            change = changes.get(route)
            value = None if change is None or change.reset else change.new_threshold
            if self.applied.get(route, None) != value or route not in self.applied:
                # Router.set_threshold only swaps a dict entry: safe to call from this thread.
                self._router.set_threshold(route, value)
                if route in self.applied:
                    log.info("route %s: threshold now %s", route, value if value is not None else "as configured")
                self.applied[route] = value
        self._apply_slices()
        return dict(self.applied)

    def _apply_slices(self) -> None:
        """Each slice's own threshold (``None``: the route's again, after a reset)."""
        for (route, slice_), change in current_slice_changes(self._engine).items():
            if route not in self._settings.routes:
                continue
            value = None if change.reset else change.new_threshold
            if self.applied_slices.get((route, slice_)) != value:
                self._router.set_slice_threshold(route, slice_, value)
                log.info("route %s, slice %s: threshold now %s", route, slice_, value)
                self.applied_slices[(route, slice_)] = value
