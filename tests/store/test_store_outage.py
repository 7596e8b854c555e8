"""The database is taken away under load and brought back: every decision must be there afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.store._store_helpers import make_decision, stored_ids, wait_for
from tests.store._store_tcp_proxy import CuttableProxy

from tiered.store.engine import make_engine
from tiered.store.migrate import upgrade
from tiered.store.writer import DecisionWriter, WriterConfig

pytestmark = pytest.mark.postgres


def test_postgres_outage_under_load_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    url = sa.make_url(pg_url)
    with CuttableProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        engine = make_engine(proxied, connect_args={"connect_timeout": 2})
        config = WriterConfig(spool_dir=tmp_path / "spool", batch_size=100, retry_initial_s=0.05, retry_max_s=0.3)
        writer = DecisionWriter(engine, config).start()
        total = 3000
        submitted = threading.Event()

        def load() -> None:
            for i in range(total):
                writer.submit(make_decision(f"d{i:05d}", "escalated" if i % 3 else "shipped"))
                if i % 50 == 0:
                    time.sleep(0.01)  # ~3,000 decisions over about 0.6 s plus the outage
            submitted.set()

        producer = threading.Thread(target=load)
        producer.start()
        assert wait_for(lambda: writer.stats().written > 300, 10)
        proxy.cut()
        assert wait_for(lambda: writer.stats().spooled > 300, 10), writer.stats()
        assert not writer.stats().database_available
        proxy.restore()
        producer.join(30)
        assert submitted.is_set()
        assert wait_for(lambda: writer.stats().database_available, 10)
        stats = writer.close()
        engine.dispose()

    check = make_engine(pg_url)
    try:
        assert stored_ids(check) == {f"d{i:05d}" for i in range(total)}
        with check.connect() as conn:
            attempts = conn.execute(sa.text("SELECT count(*) FROM attempts")).scalar_one()
        assert attempts == sum(1 if i % 3 == 0 else 2 for i in range(total))
    finally:
        check.dispose()
    assert stats.submitted == total
    assert stats.dropped == 0 and stats.rejected == 0
    assert stats.spooled > 0
    assert stats.replayed == stats.spooled
    assert stats.written + stats.spooled == total
    assert not list((tmp_path / "spool").glob("*.jsonl"))
