from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.store._store_helpers import FaultSwitch, Kind, count, make_decision, stored_ids, wait_for

from tiered.store.privacy import Content, ContentReason, cleanup
from tiered.store.schema import attempts, decisions
from tiered.store.writer import DecisionWriter, WriterConfig


def config(tmp_path: Path, **overrides: object) -> WriterConfig:
    values: dict[str, object] = {"spool_dir": tmp_path / "spool", "retry_initial_s": 0.05, "retry_max_s": 0.2}
    values.update(overrides)
    return WriterConfig(**values)  # type: ignore[arg-type]


def test_decisions_and_attempts_are_stored_field_for_field(engine: Engine, tmp_path: Path) -> None:
    kinds: tuple[Kind, ...] = ("shipped", "escalated", "passthrough", "failed")
    sent = [make_decision(f"d{i}", kinds[i % 4], key_id="key_1") for i in range(200)]
    with DecisionWriter(engine, config(tmp_path)) as writer:
        for decision in sent:
            writer.submit(decision)
        assert writer.flush(10)
        stats = writer.stats()
    assert (stats.submitted, stats.written, stats.spooled, stats.dropped, stats.queue_depth) == (200, 200, 0, 0, 0)
    assert count(engine) == 200
    assert count(engine, "attempts") == sum(len(d.attempts) for d in sent)

    escalated = sent[1]
    with engine.connect() as conn:
        row = conn.execute(sa.select(decisions).where(decisions.c.id == escalated.id)).mappings().one()
        stored_attempts = (
            conn.execute(sa.select(attempts).where(attempts.c.decision_id == escalated.id).order_by(attempts.c.idx))
            .mappings()
            .all()
        )
    assert row["created_at"] == escalated.created_at
    assert (row["route"], row["answered_by"], row["answer_tier"]) == ("default", "claude-opus-4-7", 1)
    assert (row["escalated"], row["shipped"], row["reason"]) == (True, False, "low_confidence")
    assert row["cost_usd"] == pytest.approx(escalated.cost_usd)
    assert row["counterfactual_cost_usd"] == pytest.approx(escalated.counterfactual_cost_usd)
    assert row["input_tokens"] == escalated.usage.input_tokens
    assert row["cache_read_input_tokens"] == escalated.usage.cache_read_input_tokens
    assert row["output_tokens"] == escalated.usage.output_tokens
    assert (row["request_text"], row["answer_text"], row["content_expires_at"]) == (None, None, None)
    assert [a["outcome"] for a in stored_attempts] == ["escalated", "answered"]
    assert [a["model"] for a in stored_attempts] == ["claude-haiku-4-5", "claude-opus-4-7"]
    with engine.connect() as conn:
        shipped = conn.execute(sa.select(attempts).where(attempts.c.decision_id == "d0")).mappings().one()
    assert shipped["rewrites"] == ["temperature"]
    assert shipped["first_token_ms"] == pytest.approx(100.0)


def test_a_decision_submitted_twice_is_stored_once(engine: Engine, tmp_path: Path) -> None:
    decision = make_decision("same", "escalated")
    with DecisionWriter(engine, config(tmp_path)) as writer:
        writer.submit(decision)
        writer.flush()
        writer.submit(decision)
        writer.submit(make_decision("other"))
    assert count(engine) == 2
    assert count(engine, "attempts") == 3


def test_database_outage_spools_and_replays_everything(engine: Engine, tmp_path: Path) -> None:
    fault = FaultSwitch(engine)
    with DecisionWriter(engine, config(tmp_path)) as writer:
        for i in range(100):
            writer.submit(make_decision(f"before{i}"))
        assert writer.flush()
        fault.down = True
        for i in range(300):
            writer.submit(make_decision(f"during{i}", "escalated"))
        assert writer.flush()
        down = writer.stats()
        assert down.spooled == 300
        assert not down.database_available
        assert down.last_error is not None and "database is down" in down.last_error
        assert list((tmp_path / "spool").glob("*.jsonl"))
        fault.down = False
        for i in range(50):
            writer.submit(make_decision(f"after{i}"))
        # Until the next probe finds the database back, new batches are spooled as well. The replay counts a
        # chunk after its commit: wait for the count too, not only for the rows.
        assert wait_for(lambda: count(engine) == 450 and writer.stats().replayed >= 300)
        stats = writer.stats()
        assert stats.database_available
    assert stats.replayed == stats.spooled >= 300
    assert (stats.submitted, stats.written + stats.spooled, stats.dropped) == (450, 450, 0)
    assert count(engine) == 450
    assert count(engine, "attempts") == 150 + 600
    assert not list((tmp_path / "spool").glob("*.jsonl"))


def test_close_during_an_outage_spools_and_the_next_writer_replays(engine: Engine, tmp_path: Path) -> None:
    fault = FaultSwitch(engine)
    fault.down = True
    writer = DecisionWriter(engine, config(tmp_path)).start()
    for i in range(120):
        writer.submit(make_decision(f"x{i}"))
    stats = writer.close()
    assert (stats.written, stats.spooled, stats.dropped) == (0, 120, 0)
    writer.submit(make_decision("late"))  # after close: spooled, not lost
    assert writer.stats().spooled == 121
    fault.down = False
    assert count(engine) == 0

    with DecisionWriter(engine, config(tmp_path)) as second:
        assert wait_for(lambda: second.stats().replayed == 121)
    assert count(engine) == 121


def test_a_full_queue_spills_to_the_spool_without_blocking(engine: Engine, tmp_path: Path) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def slow(*_args: object) -> None:
        entered.set()
        gate.wait(10)

    sa.event.listen(engine, "before_cursor_execute", slow)
    persisted: list[tuple[str, str]] = []

    def hook(ids: Sequence[str], where: str) -> None:
        persisted.extend((i, where) for i in ids)

    writer = DecisionWriter(engine, config(tmp_path, queue_size=20, batch_size=5, on_persisted=hook)).start()
    writer.submit(make_decision("first"))
    assert entered.wait(5)  # the writer thread is now stuck inside the database
    for i in range(100):
        writer.submit(make_decision(f"q{i}"))  # must return at once although the database hangs
    stats = writer.stats()
    assert stats.submitted == 101
    assert stats.queue_depth == 20
    assert stats.spooled == 80
    gate.set()
    sa.event.remove(engine, "before_cursor_execute", slow)
    writer.close()
    assert stored_ids(engine) == {"first", *(f"q{i}" for i in range(100))}
    assert writer.stats().dropped == 0
    assert sorted(i for i, _ in persisted) == sorted(["first", *(f"q{i}" for i in range(100))])
    assert {where for _, where in persisted} == {"db", "spool"}


def test_rows_the_database_refuses_are_rejected_one_by_one_and_kept(engine: Engine, tmp_path: Path) -> None:
    bad = make_decision("bad")
    object.__setattr__(bad, "route", None)  # violates NOT NULL: IntegrityError
    with DecisionWriter(engine, config(tmp_path)) as writer:
        writer.submit(make_decision("good1"))
        writer.submit(bad)
        writer.submit(make_decision("good2"))
    stats = writer.stats()
    assert (stats.written, stats.rejected, stats.dropped, stats.spooled) == (2, 1, 0, 0)
    assert stored_ids(engine) == {"good1", "good2"}
    rejected = list((tmp_path / "spool" / "rejected").glob("*.jsonl"))
    assert len(rejected) == 1
    assert b'"id":"bad"' in rejected[0].read_bytes()


def test_a_failing_spool_counts_drops_and_logs_loudly(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FaultSwitch(engine).down = True
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    with (
        caplog.at_level(logging.ERROR, logger="tiered.store"),
        DecisionWriter(engine, config(tmp_path, spool_dir=blocker)) as writer,
    ):
        for i in range(7):
            writer.submit(make_decision(f"z{i}"))
    stats = writer.stats()
    assert (stats.submitted, stats.written, stats.spooled, stats.dropped) == (7, 0, 0, 7)
    assert any("LOST" in record.getMessage() for record in caplog.records)


def test_content_is_stored_only_when_given_redacted_and_cleared_after_retention(engine: Engine, tmp_path: Path) -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    secret_prompt = "my key is sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789 please help"
    with DecisionWriter(
        engine, config(tmp_path, content_retention=timedelta(days=30), cleanup_interval_s=None)
    ) as writer:
        writer.submit(make_decision("plain", created_at=created))
        writer.submit(
            make_decision("audited", created_at=created),
            Content(secret_prompt, "Authorization: Bearer abcdefghijklmnop", ContentReason.AUDIT),
        )
    with engine.connect() as conn:
        rows = {r["id"]: r for r in conn.execute(sa.select(decisions)).mappings()}
    assert rows["plain"]["request_text"] is None and rows["plain"]["content_reason"] is None
    audited = rows["audited"]
    assert audited["request_text"] == "my key is [REDACTED] please help"
    assert "abcdefghijklmnop" not in audited["answer_text"]
    assert audited["content_reason"] == "audit"
    assert audited["content_expires_at"] == created + timedelta(days=30)

    assert cleanup(engine, created + timedelta(days=29)) == 0
    assert cleanup(engine, created + timedelta(days=30, seconds=1)) == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(decisions).where(decisions.c.id == "audited")).mappings().one()
    assert (row["request_text"], row["answer_text"], row["content_expires_at"]) == (None, None, None)
    assert row["request_chars"] == 100  # sizes and metadata stay


def test_the_writer_runs_the_retention_cleanup(engine: Engine, tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    with DecisionWriter(engine, config(tmp_path, cleanup_interval_s=None)) as writer:
        writer.submit(make_decision("old", created_at=old), Content("question", "answer"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(decisions.c.request_text)).scalar_one() == "question"
    with DecisionWriter(engine, config(tmp_path, cleanup_interval_s=0.05)) as writer:
        assert wait_for(lambda: _text(engine) is None, 5)


def _text(engine: Engine) -> str | None:
    with engine.connect() as conn:
        value: str | None = conn.execute(sa.select(decisions.c.request_text)).scalar_one()
        return value


def test_nul_characters_do_not_fail_a_batch(engine: Engine, tmp_path: Path) -> None:
    decision = make_decision("nul", "failed")
    object.__setattr__(decision, "error", "bad\x00byte")
    with DecisionWriter(engine, config(tmp_path)) as writer:
        writer.submit(decision, Content("a\x00b", None))
    stats = writer.stats()
    assert (stats.written, stats.rejected) == (1, 0)
    with engine.connect() as conn:
        row = conn.execute(sa.select(decisions)).mappings().one()
    assert row["error"] == "bad\ufffdbyte"
    assert row["request_text"] == "a\ufffdb"


def test_the_write_ahead_log_has_a_decision_when_submit_returns_and_is_retired_once_stored(
    engine: Engine, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    with DecisionWriter(engine, config(tmp_path, linger_s=0.5, write_ahead_rotate_s=0.0)) as writer:
        writer.submit(make_decision("wal1"))
        # on disk (the page cache) already, while the writer still lingers before its batch
        assert any(b'"wal1"' in p.read_bytes() for p in spool.glob("*.jsonl"))
        assert writer.flush(10)
        assert wait_for(lambda: not list(spool.glob("*.jsonl")), 10), "a stored segment was not retired"
        writer.submit(make_decision("wal2"))
    assert stored_ids(engine) == {"wal1", "wal2"}
    assert not list(spool.glob("*.jsonl")), "close left the write-ahead log behind"


def test_without_write_ahead_submit_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    with DecisionWriter(engine, config(tmp_path, linger_s=0.5, write_ahead=False)) as writer:
        writer.submit(make_decision("queued"))
        assert not list((tmp_path / "spool").glob("*.jsonl"))
    assert stored_ids(engine) == {"queued"}


@pytest.mark.parametrize("value", [None, "true"])
def test_the_decision_log_fsync_setting_reaches_the_proxy_writer(value: str | None, tmp_path: Path) -> None:
    from tiered.config import load_settings
    from tiered.server.runtime import _Store

    environ = {"TIERED_HOME": str(tmp_path)} | ({"TIERED_DECISION_LOG_FSYNC": value} if value else {})
    store = _Store(load_settings(environ=environ))
    try:
        assert store.writer.config.write_ahead and store.writer.config.write_ahead_fsync is (value == "true")
    finally:
        store.writer.close()
        store.engine.dispose()
