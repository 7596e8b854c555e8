"""Why a request skipped triage, stored (revision 0004): ``Decision.reason_detail`` on a blank database and on
an upgrade from 0003 with rows in it, SQLite and PostgreSQL, and in a record spooled by an older tiered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tests.store._store_helpers import make_decision

from tiered.decision import Decision, EscalationReason
from tiered.store.engine import make_engine
from tiered.store.lookup import load_decision
from tiered.store.migrate import current_revision, head_revision, upgrade
from tiered.store.records import Record, decode_record, encode_record, insert_records, to_record

DETAIL = "prefill: claude-sonnet-4-6 rejects an assistant prefill; answered by claude-haiku-4-5"


def routed_by_capability(ident: str) -> Decision:
    decision = make_decision(ident, "passthrough", reason=EscalationReason.CAPABILITY)
    return dataclasses.replace(decision, reason=EscalationReason.CAPABILITY, reason_detail=DETAIL)


def _before_0004(record: Record) -> Record:
    """``record`` as a tiered before revision 0004 wrote it (nor the columns of later revisions)."""
    later = {"reason_detail", "score", "threshold", "mode", "slice", "cache_penalty_usd", "depth"}  # 0004-0008
    attempts = tuple({k: v for k, v in a.items() if k not in later} for a in record.attempts)
    decision = {k: v for k, v in record.decision.items() if k not in later or k == "threshold"}
    return Record(record.id, decision, attempts)


def test_a_blank_database_stores_the_detail_and_reads_it_back(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            insert_records(conn, [to_record(routed_by_capability("c-1"), None, timedelta(days=1))])
        stored = load_decision(engine, "c-1")
    finally:
        engine.dispose()
    assert stored is not None
    assert stored["reason"] == "capability"
    assert stored["reason_detail"] == DETAIL


def test_an_upgrade_from_0003_keeps_the_rows_and_gives_them_no_detail(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, revision="0003")
        with engine.begin() as conn:
            insert_records(conn, [_before_0004(to_record(make_decision("old", "escalated"), None, timedelta(days=1)))])
        upgrade(engine)
        assert current_revision(engine) == head_revision() >= "0004"
        with engine.begin() as conn:
            insert_records(conn, [to_record(routed_by_capability("new"), None, timedelta(days=1))])
        old, new = load_decision(engine, "old"), load_decision(engine, "new")
    finally:
        engine.dispose()
    assert old is not None and new is not None
    assert old["reason_detail"] is None and len(old["attempts"]) == 2
    assert new["reason_detail"] == DETAIL


def test_a_record_spooled_before_0004_replays_without_a_detail() -> None:
    record = to_record(routed_by_capability("s"), None, timedelta(days=1))
    assert decode_record(encode_record(_before_0004(record))).decision["reason_detail"] is None
    assert decode_record(encode_record(record)).decision["reason_detail"] == DETAIL
