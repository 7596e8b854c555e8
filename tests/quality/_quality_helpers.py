"""Decision factories and database helpers shared by the quality tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.store.records import insert_records, to_record

QUESTION = "What is the capital of France?"


def shipped(
    ident: str,
    *,
    route: str = "default",
    confidence: float = 0.95,
    threshold: float = 0.8,
    tier: int = 0,
    created_at: datetime | None = None,
    key_id: str | None = None,
) -> Decision:
    attempt = Attempt(
        tier,
        "claude-haiku-4-5",
        AttemptRole.TRIAGE,
        Outcome.SHIPPED,
        confidence=confidence,
        usage=TokenUsage(100, 20),
        cost_usd=0.0002,
        latency_ms=120.0,
        first_token_ms=40.0,
        stop_reason="end_turn",
        request_id="req_" + ident,
    )
    return Decision(
        ident,
        route,
        created_at or datetime.now(UTC),
        (attempt,),
        "claude-haiku-4-5",
        tier,
        False,
        None,
        confidence,
        threshold,
        0.0002,
        0.004,
        150.0,
        key_id=key_id,
    )


def escalated(ident: str, *, route: str = "default", error: bool = False) -> Decision:
    triage = Attempt(
        0,
        "claude-haiku-4-5",
        AttemptRole.TRIAGE,
        Outcome.ERROR if error else Outcome.ESCALATED,
        confidence=None if error else 0.2,
        reason=EscalationReason.UPSTREAM_ERROR if error else EscalationReason.LOW_CONFIDENCE,
        latency_ms=50.0,
        status=529 if error else 200,
        error="overloaded" if error else None,
    )
    final = Attempt(
        1, "claude-opus-4-7", AttemptRole.FINAL, Outcome.ANSWERED, usage=TokenUsage(100, 80), latency_ms=900.0
    )
    return Decision(
        ident,
        route,
        datetime.now(UTC),
        (triage, final),
        "claude-opus-4-7",
        1,
        True,
        EscalationReason.UPSTREAM_ERROR if error else EscalationReason.LOW_CONFIDENCE,
        None,
        None,
        0.003,
        0.003,
        1000.0,
    )


def store(engine: Engine, *decisions: Decision) -> None:
    from datetime import timedelta

    with engine.begin() as conn:
        insert_records(conn, [to_record(d, None, timedelta(days=30)) for d in decisions])


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
