"""``tiered report``'s "where the money goes": routed calls by prompt size and routing reason, both databases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.engine import Engine

from tests.store._store_helpers import make_decision
from tiered.decision import Decision, EscalationReason
from tiered.store.render import render_report
from tiered.store.report import build_report
from tiered.store.writer import DecisionWriter, WriterConfig

NOW = datetime.now(UTC)


def _sized(decision: Decision, chars: int) -> Decision:
    return dataclasses.replace(decision, request_chars=chars)


def _dataset() -> list[Decision]:
    small = [_sized(make_decision(f"s{i}", cost=0.01, counterfactual=0.10, created_at=NOW), 60) for i in range(3)]
    large = [
        _sized(make_decision(f"e{i}", "escalated", cost=0.50, counterfactual=0.10, created_at=NOW), 450_000)
        for i in range(2)
    ]
    skipped = make_decision(
        "n0", "escalated", cost=0.10, counterfactual=0.10, created_at=NOW, reason=EscalationReason.NOT_WORTH_TRIAGE
    )
    passthrough = make_decision("p0", "passthrough", cost=9.0, counterfactual=1.0, created_at=NOW)
    return [*small, *large, _sized(skipped, 450_000), passthrough]


def test_the_report_shows_which_traffic_loses_money(engine: Engine, tmp_path: Path) -> None:
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        for decision in _dataset():
            writer.submit(decision)
    report = build_report(engine, since=NOW - timedelta(hours=1))
    by_size = {r.key: r for r in report.money if r.by == "size"}
    assert list(by_size) == ["<1k", ">=128k"]  # 60 characters; 450,000 characters = 150k tokens at 3 a token
    assert (by_size["<1k"].calls, by_size["<1k"].losing_calls) == (3, 0)
    assert by_size["<1k"].savings_usd == pytest.approx(0.27)
    assert (by_size[">=128k"].calls, by_size[">=128k"].losing_calls) == (3, 2)
    assert by_size[">=128k"].savings_usd == pytest.approx(-0.80)
    by_reason = [(r.key, r.calls) for r in report.money if r.by == "reason"]
    assert by_reason == [("low_confidence", 2), ("not_worth_triage", 1), ("shipped", 3)]  # losers first
    console = Console(record=True, width=140)
    render_report(report, console)
    text = console.export_text()
    assert "where the money goes" in text and ">=128k" in text and "not_worth_triage" in text
