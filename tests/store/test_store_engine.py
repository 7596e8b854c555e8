"""The SQLite engine leaves the process's ``sqlite3`` module as it found it, and writes NULLs as NULLs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa
from _store_helpers import child_env

from tiered.store.engine import make_engine


def test_none_binds_as_null(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (a, b, c)")
            connection.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?)", [(None, 1, "x"), (2.5, None, None)])
            rows = connection.execute(sa.text("SELECT a IS NULL, b IS NULL, c IS NULL, a, b, c FROM t")).all()
        assert [tuple(row) for row in rows] == [(1, 0, 0, None, 1, "x"), (0, 1, 1, 2.5, None, None)]
    finally:
        engine.dispose()


def test_importing_and_using_the_store_leaves_sqlite3_adapters_alone(tmp_path: Path) -> None:
    """An application that imports tiered as a library keeps its own ``sqlite3``: the adapter registry is per
    process, so tiered registers nothing there (checked in a fresh interpreter, import-time effects included)."""
    script = textwrap.dedent(
        """
        import sqlite3, sys
        from datetime import timedelta
        before = dict(sqlite3.adapters)
        import tiered, tiered.store
        from tiered.store.engine import make_engine
        from tiered.store.migrate import upgrade
        from tiered.store.records import insert_records, to_record
        from _store_helpers import make_decision
        engine = make_engine("sqlite:///" + sys.argv[1])
        upgrade(engine)
        with engine.begin() as connection:
            insert_records(connection, [to_record(make_decision("d1"), None, timedelta(days=1))])
            (stored,) = connection.exec_driver_sql("SELECT count(*) FROM decisions").one()
        engine.dispose()
        assert stored == 1, stored
        assert sqlite3.adapters == before, set(sqlite3.adapters) - set(before)
        print("untouched")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "d.db")],
        check=False,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "untouched"
    assert (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters  # nor in this process
