"""``tiered report``'s "where the money goes": routed calls by prompt size, depth and routing reason, with the
cache penalty, both databases."""

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


def _deep(decision: Decision, depth: int | None, penalty: float | None) -> Decision:
    return dataclasses.replace(decision, depth=depth, cache_penalty_usd=penalty)


def test_the_report_breaks_savings_down_by_depth_and_shows_the_cache_penalty(engine: Engine, tmp_path: Path) -> None:
    """Savings are net of the penalty (it is inside the cost); the summary and each row show it apart."""
    dataset = [
        _deep(make_decision("d1", cost=0.01, counterfactual=0.10, created_at=NOW), 1, 0.0),
        _deep(make_decision("d2", "escalated", cost=0.50, counterfactual=0.10, created_at=NOW), 2, 0.30),
        _deep(make_decision("d5", "escalated", cost=0.20, counterfactual=0.10, created_at=NOW), 5, 0.05),
        _deep(make_decision("d12", cost=0.02, counterfactual=0.12, created_at=NOW), 12, 0.0),
        _deep(make_decision("old", cost=0.01, counterfactual=0.02, created_at=NOW), None, None),  # before 0008
    ]
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        for decision in dataset:
            writer.submit(decision)
    report = build_report(engine, since=NOW - timedelta(hours=1))
    assert report.cost.cache_penalty_usd == pytest.approx(0.35)
    assert report.cost.savings_usd == pytest.approx(0.09 - 0.40 - 0.10 + 0.10 + 0.01)
    by_depth = {r.key: r for r in report.money if r.by == "depth"}
    assert list(by_depth) == ["1", "2-3", "4-9", ">=10", "unknown"]  # smallest first, unknown last
    assert by_depth["2-3"].losing_calls == 1
    assert by_depth["2-3"].penalty_usd == pytest.approx(0.30)
    assert by_depth["2-3"].savings_usd == pytest.approx(-0.40)
    assert by_depth["4-9"].penalty_usd == pytest.approx(0.05)
    assert by_depth["unknown"].penalty_usd == 0.0
    assert sum(r.penalty_usd for r in report.money if r.by == "reason") == pytest.approx(0.35)
    console = Console(record=True, width=160)
    render_report(report, console)
    text = console.export_text()
    assert "cache penalty (in the cost)" in text and "depth (turns)" in text and ">=10" in text


def test_the_cache_penalty_is_a_prometheus_counter_per_route() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tiered.metrics import Metrics

    metrics = Metrics()
    for ident, penalty in (("a", 0.30), ("b", None), ("c", 0.05), ("d", 0.0)):
        metrics.observe(_deep(make_decision(ident, "escalated", created_at=NOW), 2, penalty))
    text = metrics.render()[0].decode()
    samples = {
        (s.name, s.labels.get("route")): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }
    assert samples[("tiered_cache_penalty_usd_total", "default")] == pytest.approx(0.35)
