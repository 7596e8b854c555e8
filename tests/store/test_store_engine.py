"""The SQLite engine binds NULLs without sqlite3's adapter protocol, and the rows it writes are unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from tiered.store.engine import make_engine


def test_none_binds_as_null_through_its_own_adapter(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        assert sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol)) is not None
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (a, b, c)")
            connection.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?)", [(None, 1, "x"), (2.5, None, None)])
            rows = connection.execute(sa.text("SELECT a IS NULL, b IS NULL, c IS NULL, a, b, c FROM t")).all()
        assert [tuple(row) for row in rows] == [(1, 0, 0, None, 1, "x"), (0, 1, 1, 2.5, None, None)]
    finally:
        engine.dispose()
