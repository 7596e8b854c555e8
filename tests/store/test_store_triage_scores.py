"""What each triage was judged by, stored (revision 0005): ``Attempt.score`` / ``threshold`` and
``Decision.score`` on a blank database and on an upgrade from 0004 with rows in it, SQLite and PostgreSQL, and
in a record spooled by an older tiered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tests.store._store_helpers import make_decision

from tiered.decision import Decision
from tiered.store.engine import make_engine
from tiered.store.lookup import load_decision
from tiered.store.migrate import current_revision, head_revision, upgrade
from tiered.store.records import Record, decode_record, encode_record, insert_records, to_record


def escalated_with_scores(ident: str) -> Decision:
    decision = make_decision(ident, "escalated")
    triage = dataclasses.replace(decision.attempts[0], confidence=0.78, score=0.71, threshold=0.9)
    attempts = (triage, *decision.attempts[1:])
    return dataclasses.replace(decision, attempts=attempts, confidence=0.78, score=0.71, threshold=0.9)


def _before_0005(record: Record) -> Record:
    """``record`` as tiered wrote it at 0004 (nor the columns of later revisions: 0006's mode and slice)."""
    attempts = tuple({k: v for k, v in a.items() if k not in ("score", "threshold")} for a in record.attempts)
    decision = {
        k: v for k, v in record.decision.items() if k not in ("score", "mode", "slice", "cache_penalty_usd", "depth")
    }
    return Record(record.id, decision, attempts)


def test_a_blank_database_stores_each_triage_s_score_and_threshold(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            insert_records(conn, [to_record(escalated_with_scores("s-1"), None, timedelta(days=1))])
        stored = load_decision(engine, "s-1")
    finally:
        engine.dispose()
    assert stored is not None
    assert (stored["confidence"], stored["score"], stored["threshold"]) == (0.78, 0.71, 0.9)
    triage, final = stored["attempts"]
    assert (triage["confidence"], triage["score"], triage["threshold"]) == (0.78, 0.71, 0.9)
    assert (final["score"], final["threshold"]) == (None, None)


def test_an_upgrade_from_0004_keeps_the_rows_and_gives_them_no_score(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, revision="0004")
        with engine.begin() as conn:
            insert_records(conn, [_before_0005(to_record(make_decision("old", "escalated"), None, timedelta(days=1)))])
        upgrade(engine)
        assert current_revision(engine) == head_revision() >= "0005"
        with engine.begin() as conn:
            insert_records(conn, [to_record(escalated_with_scores("new"), None, timedelta(days=1))])
        old, new = load_decision(engine, "old"), load_decision(engine, "new")
    finally:
        engine.dispose()
    assert old is not None and new is not None
    assert old["score"] is None and [a["score"] for a in old["attempts"]] == [None, None]
    assert new["score"] == 0.71 and new["attempts"][0]["threshold"] == 0.9


def test_a_record_spooled_before_0005_replays_without_scores() -> None:
    record = to_record(escalated_with_scores("s"), None, timedelta(days=1))
    old = decode_record(encode_record(_before_0005(record)))
    assert old.decision["score"] is None and old.attempts[0]["score"] is None and old.attempts[0]["threshold"] is None
    assert decode_record(encode_record(record)).attempts[0]["score"] == 0.71
