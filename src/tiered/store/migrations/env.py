"""Alembic environment for the decision store.

Run through :func:`tiered.store.migrate.upgrade`, which hands over an open connection in
``config.attributes["connection"]``; there is no ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tiered.store.schema import ALEMBIC_VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode lets later revisions change columns there too.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run tiered migrations with tiered.store.migrate.upgrade(), not the alembic CLI")
    _run(connection)


_main()
