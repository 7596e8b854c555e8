"""The whole usage of each attempt in the store (revision 0003): the 1-hour cache-write split, server-tool counts,
the upstream's usage object as it came, and the estimate flag; on a blank database and on an upgrade from
0002 with rows in it, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store._store_helpers import make_decision

from tiered.decision import Decision, TokenUsage
from tiered.store.engine import make_engine
from tiered.store.lookup import load_decision
from tiered.store.migrate import current_revision, head_revision, upgrade
from tiered.store.records import Record, decode_record, encode_record, insert_records, to_record

REPORTED: dict[str, Any] = {
    "input_tokens": 1_200,
    "output_tokens": 340,
    "cache_read_input_tokens": 5_000,
    "cache_creation_input_tokens": 9_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 8_000},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
    "service_tier": "standard",
    "inference_geo": "us",  # a field tiered does not read is kept all the same
}
NEW_COLUMNS = ("cache_creation_1h_input_tokens", "web_search_requests", "web_fetch_requests")
NEW_ATTEMPT_COLUMNS = (*NEW_COLUMNS, "reported_usage", "usage_estimated")


def detailed(ident: str) -> Decision:
    """An escalated decision whose final attempt reported a full usage object, and whose triage's usage is
    an estimate (cut short)."""
    decision = make_decision(ident, "escalated")
    triage, final = decision.attempts
    triage = dataclasses.replace(triage, usage_estimated=True, reported_usage={"input_tokens": 120, "output_tokens": 1})
    final = dataclasses.replace(final, usage=TokenUsage.from_anthropic(REPORTED), reported_usage=dict(REPORTED))
    return dataclasses.replace(decision, attempts=(triage, final))


def test_usage_detail_is_stored_and_read_back_as_the_decision_says(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        decision = detailed("u-1")
        with engine.begin() as conn:
            insert_records(conn, [to_record(decision, None, timedelta(days=1))])
        stored = load_decision(engine, "u-1")
    finally:
        engine.dispose()
    assert stored is not None
    expected = decision.to_dict()
    assert stored["usage"] == expected["usage"]
    assert stored["usage"]["cache_creation_1h_input_tokens"] == 8_000
    for got, want in zip(stored["attempts"], expected["attempts"], strict=True):
        assert {k: got[k] for k in want} == want
    final = stored["attempts"][1]
    assert final["reported_usage"] == REPORTED and final["usage_estimated"] is False
    assert final["usage"]["web_search_requests"] == 2 and final["usage"]["web_fetch_requests"] == 1
    assert stored["attempts"][0]["usage_estimated"] is True


def _older(record: Record, revision: str = "0002") -> Record:
    """``record`` as tiered wrote it at ``revision``, before 0003."""
    # reason_detail (0004), the scores (0005), mode and slice (0006) are newer than both
    newer = (
        (*NEW_COLUMNS, "reason_detail", "score", "mode", "slice", "cache_penalty_usd", "depth")
        if revision == "0002"
        else (
            *NEW_COLUMNS,
            "reason_detail",
            "score",
            "mode",
            "slice",
            "cache_penalty_usd",
            "depth",
            "replica",
            "degraded",
        )
    )
    decision = {k: v for k, v in record.decision.items() if k not in newer}
    later = (*NEW_ATTEMPT_COLUMNS, "score", "threshold")
    attempts = tuple({k: v for k, v in a.items() if k not in later} for a in record.attempts)
    return Record(record.id, decision, attempts)


@pytest.mark.parametrize("start", ["0001", "0002"])
def test_an_upgrade_keeps_the_rows_and_gives_them_what_they_recorded(db_url: str, start: str) -> None:
    """Every revision since ``start`` applied to a database with decisions in it: no attempt is lost (SQLite
    rebuilds a table to alter it, and dropping ``decisions`` with foreign keys on used to delete every attempt
    through ``ON DELETE CASCADE``), and old rows read as what they recorded."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, revision=start)
        with engine.begin() as conn:
            old_record = to_record(make_decision("old", "escalated"), None, timedelta(days=1))
            insert_records(conn, [_older(old_record, start)])
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.begin() as conn:
            insert_records(conn, [to_record(detailed("new"), None, timedelta(days=1))])
        old, new = load_decision(engine, "old"), load_decision(engine, "new")
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT COUNT(*) FROM attempts")).scalar_one()
            if conn.dialect.name == "sqlite":  # and foreign keys are on again after the migration
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()
    assert count == 4
    assert old is not None and new is not None
    assert old["usage"]["input_tokens"] > 0  # kept
    assert all(old["usage"][name] == 0 for name in NEW_COLUMNS)
    for attempt in old["attempts"]:
        assert attempt["reported_usage"] is None and attempt["usage_estimated"] is False
        assert all(attempt["usage"][name] == 0 for name in NEW_COLUMNS)
    assert new["attempts"][1]["reported_usage"] == REPORTED


def test_a_record_spooled_before_0003_replays_with_the_defaults() -> None:
    line = encode_record(_older(to_record(make_decision("spooled", "escalated"), None, timedelta(days=1))))
    record = decode_record(line)
    assert record.decision["web_search_requests"] == 0
    for attempt in record.attempts:
        assert attempt["reported_usage"] is None and attempt["usage_estimated"] is False
        assert attempt["cache_creation_1h_input_tokens"] == 0
    fresh = to_record(detailed("spooled-new"), None, timedelta(days=1))
    assert decode_record(encode_record(fresh)).attempts == fresh.attempts
