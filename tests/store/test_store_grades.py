from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tiered.decision import Attempt, AttemptRole, Decision, Outcome, TokenUsage
from tiered.errors import InvalidRequestError, NotFoundError
from tiered.store import make_engine, upgrade
from tiered.store.grades import list_grades, pending_audits, record_grade
from tiered.store.records import insert_records, to_record
from tiered.store.schema import GradeVerdict, audit_samples


def _decision(i: str) -> Decision:
    attempt = Attempt(
        0, "claude-haiku-4-5", AttemptRole.TRIAGE, Outcome.SHIPPED, confidence=0.9, usage=TokenUsage(10, 5)
    )
    return Decision(
        id=i,
        route="default",
        created_at=datetime.now(UTC),
        attempts=(attempt,),
        answered_by="claude-haiku-4-5",
        answer_tier=0,
        escalated=False,
        reason=None,
        confidence=0.9,
        threshold=0.8,
        cost_usd=0.001,
        counterfactual_cost_usd=0.01,
        latency_ms=5.0,
    )


def test_grades_and_audits(tmp_path: Path) -> None:
    from datetime import timedelta

    from tiered.store.privacy import Content, ContentReason

    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        insert_records(
            conn,
            [
                to_record(_decision("d1"), Content("q?", "a.", ContentReason.AUDIT), timedelta(days=1)),
                to_record(_decision("d2"), None, timedelta(days=1)),
            ],
        )
        conn.execute(
            sa.insert(audit_samples).values(
                decision_id="d1",
                route="default",
                sampler="uniform",
                probability=0.01,
                status="pending",
                created_at=datetime.now(UTC),
            )
        )
    (item,) = pending_audits(engine)
    assert item.decision_id == "d1" and item.request_text == "q?" and item.answer_text == "a."
    grade = record_grade(engine, "d1", "incorrect", "human", grader="ops", reason="wrong city", weight=100)
    assert grade.verdict is GradeVerdict.INCORRECT and grade.id > 0
    assert pending_audits(engine) == []
    assert [g.verdict for g in list_grades(engine, "d1")] == [GradeVerdict.INCORRECT]
    record_grade(engine, "d2", GradeVerdict.CORRECT, "app")
    with pytest.raises(NotFoundError):
        record_grade(engine, "nope", "correct", "app")
    with pytest.raises(InvalidRequestError, match="verdict"):
        record_grade(engine, "d1", "meh", "app")
    with pytest.raises(InvalidRequestError, match="grader_kind"):
        record_grade(engine, "d1", "correct", "robot")
    engine.dispose()
