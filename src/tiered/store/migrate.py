"""Schema migrations, run programmatically (there is no ``alembic.ini``).

:func:`upgrade` brings a database to the newest revision; ``tiered serve`` calls it on start and
``tiered db upgrade`` on demand. It is idempotent and safe when several replicas start at once: PostgreSQL
serializes upgrades with an advisory lock, a SQLite file with a lock file beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiered.errors import ConfigError
from tiered.store.paths import redact_url

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "ensure_current",
    "head_revision",
    "schema_diff",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any constant works; it only has to be the same for every tiered process sharing a database.
_PG_LOCK_KEY = 0x7469657265640001


def alembic_config(connection: Connection | None = None, version_locations: Sequence[Path] = ()) -> Config:
    """An Alembic config for the store's migrations, bound to ``connection`` when given.

    ``version_locations`` adds directories of further revisions (a test uses it to check an upgrade path).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if version_locations:
        locations = [str(MIGRATIONS_DIR / "versions"), *(str(p) for p in version_locations)]
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(locations))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(target: str | Engine, revision: str = "head", version_locations: Sequence[Path] = ()) -> None:
    """Migrate the database at ``target`` (a URL or an engine) to ``revision``."""
    from alembic import command

    engine, owned = _engine(target)
    try:
        with _migration_lock(engine), engine.connect() as connection, _sqlite_foreign_keys_off(connection):
            command.upgrade(alembic_config(connection, version_locations), revision)
            connection.commit()
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"could not migrate the database at {redact_url(str(engine.url))}: {exc}. "
            "Check the database URL (--database-url or TIERED_DATABASE_URL) and that the database is up."
        ) from exc
    finally:
        if owned:
            engine.dispose()


@contextlib.contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite's foreign keys off while migrating. A batch migration rebuilds a table (copy, drop, rename), and
    dropping ``decisions`` with foreign keys on deletes every ``attempts`` row through ``ON DELETE CASCADE``
    (Alembic's batch docs, "Dealing with Referencing Tables"; SQLite's ``PRAGMA foreign_keys``, which works only
    outside a transaction, hence before the migration's)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        connection.rollback()  # nothing is left to roll back after the migration's commit
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for a blank database."""
    from alembic.runtime.migration import MigrationContext

    from tiered.store.schema import ALEMBIC_VERSION_TABLE

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": ALEMBIC_VERSION_TABLE})
        return context.get_current_revision()


def head_revision(version_locations: Sequence[Path] = ()) -> str:
    """The newest revision shipped with this version of tiered."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(None, version_locations)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}; the tiered installation is broken")
    return head


def ensure_current(engine: Engine) -> None:
    """Raise :class:`ConfigError` with the fix if the database is not at the newest revision."""
    url = redact_url(str(engine.url))
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        raise ConfigError(
            f"no decision database at {database} yet: run `tiered serve` (which records decisions) "
            "or `tiered db upgrade` first, or point --database-url / TIERED_DATABASE_URL at your database."
        )
    try:
        current = current_revision(engine)
    except Exception as exc:
        raise ConfigError(f"could not read the database at {url}: {exc}. Check the URL and that it is up.") from exc
    head = head_revision()
    if current != head:
        raise ConfigError(
            f"the database at {url} is at revision {current or 'none (blank)'}, this tiered needs {head}: "
            "run `tiered db upgrade`."
        )


def schema_diff(engine: Engine) -> list[Any]:
    """Differences between the migrated database and :data:`tiered.store.schema.metadata` (empty if none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tiered.store.schema import ALEMBIC_VERSION_TABLE, metadata

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": ALEMBIC_VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def _engine(target: str | Engine) -> tuple[Engine, bool]:
    if isinstance(target, str):
        from tiered.store.engine import make_engine

        return make_engine(target), True
    return target, False


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        import sqlalchemy as sa

        with engine.connect() as lock_connection:
            # A session-level lock, held on its own connection while the migration runs on another.
            lock_connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            lock_connection.commit()
            try:
                yield
            finally:
                lock_connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                lock_connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    yield
