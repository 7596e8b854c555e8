"""SQLite inserts go through the driver's executemany with each column's own bind processor: the rows must be
exactly what SQLAlchemy's insert stores, and a replay must change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from tests.store._store_helpers import make_decision

from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.privacy import Content, ContentReason
from tiered.store.records import Record, insert_records, to_record
from tiered.store.schema import attempts, decisions


def _records() -> list[Record]:
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)  # no microseconds: stored with them all the same
    items = [
        to_record(make_decision("d-shipped", "shipped", created_at=at), None, timedelta(days=30)),
        to_record(
            replace(make_decision("d-escalated", "escalated", key_id="key_1"), degraded=True, error="caf\u00e9\x00"),
            Content("question \u2603", "answer", ContentReason.AUDIT),
            timedelta(days=7),
        ),
        to_record(make_decision("d-pass", "passthrough", confidence=None, cost=None, reason=None), None, timedelta(1)),
    ]
    return items


def _rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        out = [tuple(r) for r in connection.execute(sa.text("SELECT * FROM decisions ORDER BY id"))]
        out += [tuple(r) for r in connection.execute(sa.text("SELECT * FROM attempts ORDER BY decision_id, idx"))]
    return out


def test_sqlite_rows_are_what_sqlalchemys_insert_stores(tmp_path: Path) -> None:
    fast, reference = make_engine(f"sqlite:///{tmp_path}/fast.db"), make_engine(f"sqlite:///{tmp_path}/ref.db")
    upgrade(fast)
    upgrade(reference)
    records = _records()
    with fast.begin() as connection:
        insert_records(connection, records)
    with reference.begin() as connection:
        connection.execute(sqlite.insert(decisions).on_conflict_do_nothing(), [r.decision for r in records])
        rows = [row for r in records for row in r.attempts]
        connection.execute(sqlite.insert(attempts).on_conflict_do_nothing(), rows)
    stored = _rows(fast)
    assert stored == _rows(reference)
    assert len(stored) == 3 + sum(len(r.attempts) for r in records)
    with fast.begin() as connection:  # a replay (the spool's) inserts nothing twice
        insert_records(connection, records)
    assert _rows(fast) == stored


def test_a_row_without_a_newer_column_gets_its_default(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    first, second, _ = _records()
    older = {key: value for key, value in second.decision.items() if key not in ("replica", "degraded")}
    with engine.begin() as connection:
        insert_records(connection, [first])
        insert_records(connection, [Record(second.id, older, second.attempts)])
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, replica, degraded FROM decisions ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [("d-escalated", None, 0), ("d-shipped", None, 0)]
