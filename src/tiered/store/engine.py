"""Engines for the decision store: SQLite in WAL mode by default, PostgreSQL (psycopg 3) by URL.

SQLite runs with ``journal_mode=WAL`` and ``synchronous=NORMAL``: a committed transaction survives a crash of
the process (``kill -9``) but the last few may be lost if the operating system crashes or power fails. That is
the usual trade for a log that must not slow the request path; use PostgreSQL when that is not enough.

NULLs are bound through sqlite3's adapter protocol (about 0.18 us each, 3.7 us for a decision row's twenty).
An adapter for ``None`` would skip that, but sqlite3's adapter registry is per process, not per connection:
registering one changes sqlite3 for every application that imports tiered as a library, so tiered does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "make_engine", "normalize_url"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` and ``postgres://`` mean psycopg 3, the driver tiered ships with."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, creating the parent directory of a SQLite file if needed.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine` (a test passes ``connect_args`` to pin a
    PostgreSQL schema, for example).
    """
    import sqlalchemy as sa

    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        # A database that is down must fail a batch quickly (it is then spooled), not hang the writer.
        connect_args.setdefault("connect_timeout", 5)
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, connect_args=connect_args, **kwargs)
    return sa.create_engine(parsed, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
