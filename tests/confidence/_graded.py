"""A temp decision store filled with graded shipped answers, for training the learned confidence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import shipped

from tiered.quality.transcript import request_text
from tiered.store.grades import record_grade
from tiered.store.privacy import Content, ContentReason
from tiered.store.records import insert_records, to_record

RIGHT = "Adding them up: 12 + 30 = 42.\nThe answer is 42."
HEDGED = "Maybe it is 41, I think, but I am not sure; it could be 43."


def fill(engine: Engine, n: int, *, hedges_mean_wrong: bool, seed: int = 0, route: str = "default") -> None:
    """``n`` graded shipped answers, half right. With ``hedges_mean_wrong`` the stated confidence says nothing
    (uniform on [0.8, 1] for both) and every wrong answer hedges; otherwise the stated confidence alone tells
    them apart (right >= 0.95, wrong <= 0.7) and the answers look alike."""
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    records, verdicts = [], []
    for i in range(n):
        right = i % 2 == 0
        if hedges_mean_wrong:
            confidence, answer = rng.uniform(0.8, 1.0), RIGHT if right else HEDGED
        else:
            confidence = rng.uniform(0.95, 1.0) if right else rng.uniform(0.5, 0.7)
            answer = RIGHT if rng.random() < 0.5 else HEDGED
        question = f"How many apples are there if Ann has 12 and Bo has {30 + i % 7}?"
        content = Content(
            request_text({"messages": [{"role": "user", "content": question}]}), answer, ContentReason.AUDIT
        )
        decision = shipped(f"d{i:04d}", route=route, confidence=confidence, created_at=start + timedelta(minutes=i))
        records.append(to_record(decision, content, timedelta(days=30)))
        verdicts.append((decision.id, "correct" if right else "incorrect"))
    with engine.begin() as conn:
        insert_records(conn, records)
    for ident, verdict in verdicts:
        record_grade(engine, ident, verdict, "human", grader="test")
