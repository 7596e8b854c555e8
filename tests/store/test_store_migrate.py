from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.store._store_helpers import count, make_decision

from tiered.errors import ConfigError
from tiered.store.engine import make_engine
from tiered.store.migrate import current_revision, ensure_current, head_revision, schema_diff, upgrade
from tiered.store.privacy import Content
from tiered.store.records import insert_records, to_record
from tiered.store.schema import metadata

EXTRA_REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "9001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("test_note", sa.String(), nullable=True))
    op.create_table("test_extra", sa.Column("id", sa.Integer(), primary_key=True))
"""


def test_blank_database_is_migrated_to_head_matching_the_metadata(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert schema_diff(engine), "a blank database must differ from the metadata (else the check checks nothing)"
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
        tables = set(sa.inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        ensure_current(engine)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            insert_records(conn, [to_record(make_decision("a"), None, retention=timedelta(days=30))])
        upgrade(engine)
        upgrade(db_url)  # by URL too
        assert count(engine) == 1
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_path_applies_a_later_revision_on_top_of_head_with_data(db_url: str, tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "9001_test_extra.py").write_text(EXTRA_REVISION.format(down=head_revision()))
    engine = make_engine(db_url)
    try:
        upgrade(engine, revision="0001")
        assert current_revision(engine) == "0001"
        upgrade(engine)  # 0001 -> head
        record = to_record(make_decision("kept"), Content("q", "a"), retention=timedelta(days=30))
        with engine.begin() as conn:
            insert_records(conn, [record])
        upgrade(engine, version_locations=[versions])
        assert current_revision(engine) == "9001"
        columns = {c["name"] for c in sa.inspect(engine).get_columns("decisions")}
        assert "test_note" in columns
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, request_text, test_note FROM decisions")).one()
        assert tuple(row) == ("kept", "q", None)
        assert count(engine, "attempts") == 1
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_a_blank_database_both_succeed(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        try:
            upgrade(db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_ensure_current_explains_what_to_do(tmp_path: Path) -> None:
    missing = make_engine(f"sqlite:///{tmp_path}/nothing-here.db")
    with pytest.raises(ConfigError, match="tiered db upgrade"):
        ensure_current(missing)
    assert not (tmp_path / "nothing-here.db").exists()  # checking must not create the file
    blank = make_engine(f"sqlite:///{tmp_path}/blank.db")
    with blank.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))
    with pytest.raises(ConfigError, match=r"revision none \(blank\).*tiered db upgrade"):
        ensure_current(blank)


def test_upgrade_failure_is_a_config_error_with_the_url_redacted(tmp_path: Path) -> None:
    url = "postgresql://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(ConfigError) as info:
        upgrade(url)
    assert "hunter2" not in str(info.value)
    assert "TIERED_DATABASE_URL" in str(info.value)


def test_utc_datetimes_round_trip(engine: sa.Engine) -> None:
    moment = datetime(2026, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        insert_records(conn, [to_record(make_decision("t", created_at=moment), None, retention=timedelta(days=1))])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(metadata.tables["decisions"].c.created_at)).scalar_one()
    assert stored == moment
    assert stored.tzinfo is not None
