"""Decision factories and small helpers shared by the store tests."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import tiered
from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage

Kind = Literal["shipped", "escalated", "passthrough", "failed"]

HERE = Path(__file__).parent


def make_decision(
    ident: str,
    kind: Kind = "shipped",
    *,
    route: str = "default",
    confidence: float | None = 0.9,
    cost: float | None = 0.001,
    counterfactual: float | None = 0.02,
    latency: float = 300.0,
    created_at: datetime | None = None,
    reason: EscalationReason | None = EscalationReason.LOW_CONFIDENCE,
    key_id: str | None = None,
) -> Decision:
    now = created_at or datetime.now(UTC)
    triage_usage = TokenUsage(120, 30, 10, 0)
    if kind == "passthrough":
        attempt = Attempt(
            0,
            "claude-opus-4-7",
            AttemptRole.PASSTHROUGH,
            Outcome.ANSWERED,
            usage=TokenUsage(50, 60),
            cost_usd=cost,
            latency_ms=latency,
        )
        return Decision(
            ident,
            route,
            now,
            (attempt,),
            "claude-opus-4-7",
            0,
            False,
            None,
            None,
            None,
            cost,
            counterfactual,
            latency,
            passthrough=True,
            key_id=key_id,
            request_hash="h-" + ident,
            request_chars=100,
            answer_chars=200,
        )
    if kind == "shipped":
        attempt = Attempt(
            0,
            "claude-haiku-4-5",
            AttemptRole.TRIAGE,
            Outcome.SHIPPED,
            confidence=confidence,
            usage=triage_usage,
            cost_usd=cost,
            latency_ms=latency,
            first_token_ms=latency / 3,
            stop_reason="end_turn",
            status=200,
            request_id="req_" + ident,
            rewrites=("temperature",),
        )
        return Decision(
            ident,
            route,
            now,
            (attempt,),
            "claude-haiku-4-5",
            0,
            False,
            None,
            confidence,
            0.8,
            cost,
            counterfactual,
            latency,
            stream=True,
            key_id=key_id,
            request_hash="h-" + ident,
            request_chars=100,
            answer_chars=50,
        )
    triage = Attempt(
        0,
        "claude-haiku-4-5",
        AttemptRole.TRIAGE,
        Outcome.ESCALATED,
        confidence=confidence,
        reason=reason,
        usage=triage_usage,
        cost_usd=None if cost is None else cost / 10,
        latency_ms=latency / 4,
    )
    if kind == "escalated":
        final = Attempt(
            1,
            "claude-opus-4-7",
            AttemptRole.FINAL,
            Outcome.ANSWERED,
            usage=TokenUsage(120, 400),
            cost_usd=None if cost is None else cost * 9 / 10,
            latency_ms=latency * 3 / 4,
        )
        return Decision(
            ident,
            route,
            now,
            (triage, final),
            "claude-opus-4-7",
            1,
            True,
            reason,
            confidence,
            0.8,
            cost,
            counterfactual,
            latency,
            key_id=key_id,
            request_hash="h-" + ident,
            request_chars=100,
            answer_chars=900,
        )
    final = Attempt(
        1,
        "claude-opus-4-7",
        AttemptRole.FINAL,
        Outcome.ERROR,
        status=529,
        error="overloaded",
        latency_ms=latency * 3 / 4,
    )
    return Decision(
        ident,
        route,
        now,
        (triage, final),
        None,
        None,
        True,
        reason,
        confidence,
        0.8,
        cost,
        counterfactual,
        latency,
        error="every tier failed",
        error_status=529,
        key_id=key_id,
        request_hash="h-" + ident,
        request_chars=100,
    )


def count(engine: Engine, table: str = "decisions") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(sa.text("SELECT id FROM decisions"))}


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def child_env() -> dict[str, str]:
    """Environment for a child Python that imports tiered (from this checkout) and these helpers."""
    src = str(Path(tiered.__file__).resolve().parent.parent)
    # HERE for `_store_helpers` by bare name, the repository root for `tests.store._store_helpers` (the name
    # _store_writer_child.py uses, as the test modules do).
    root = str(HERE.resolve().parents[1])
    paths = [src, str(HERE), root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


PYTHON = sys.executable


class FaultSwitch:
    """Makes every statement on an engine fail (like a database that went away) while ``down`` is set."""

    def __init__(self, engine: Engine) -> None:
        self.down = False
        self.failures = 0
        sa.event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, *_args: object) -> None:
        if self.down:
            self.failures += 1
            raise sa.exc.OperationalError("INSERT ...", {}, ConnectionError("database is down (test)"))
