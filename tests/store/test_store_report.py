from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from _store_helpers import make_decision
from rich.console import Console
from sqlalchemy.engine import Engine

from tiered.decision import Decision, EscalationReason
from tiered.store.render import render_report
from tiered.store.report import build_report
from tiered.store.schema import grades
from tiered.store.writer import DecisionWriter, WriterConfig

NOW = datetime.now(UTC)
RECENT = NOW - timedelta(hours=1)
OLD = NOW - timedelta(days=3)
LOW = EscalationReason.LOW_CONFIDENCE


def dataset() -> list[Decision]:
    out: list[Decision] = []
    for i, (conf, latency) in enumerate(
        zip((0.95, 0.91, 0.85, 0.85, 0.99, 1.0), (100, 200, 300, 400, 500, 600), strict=True)
    ):
        out.append(
            make_decision(
                f"chat-s{i}",
                route="chat",
                confidence=conf,
                cost=0.01,
                counterfactual=0.10,
                latency=latency,
                created_at=RECENT,
            )
        )
    for i, (conf, reason, latency) in enumerate(
        ((0.2, LOW, 1000), (0.5, LOW, 2000), (None, EscalationReason.INVALID_OUTPUT, 3000))
    ):
        out.append(
            make_decision(
                f"chat-e{i}",
                "escalated",
                route="chat",
                confidence=conf,
                reason=reason,
                cost=0.12,
                counterfactual=0.10,
                latency=latency,
                created_at=RECENT,
            )
        )
    out.append(
        make_decision(
            "chat-p", "passthrough", route="chat", cost=0.05, counterfactual=0.05, latency=700, created_at=RECENT
        )
    )
    out.append(
        make_decision(
            "chat-f",
            "failed",
            route="chat",
            confidence=0.3,
            reason=EscalationReason.UPSTREAM_ERROR,
            cost=None,
            counterfactual=0.10,
            latency=50,
            created_at=RECENT,
        )
    )
    for i, latency in enumerate((150, 250)):
        out.append(
            make_decision(
                f"code-s{i}",
                route="code",
                confidence=0.9,
                cost=0.02,
                counterfactual=0.2,
                latency=latency,
                created_at=RECENT,
            )
        )
    for i in range(5):
        out.append(make_decision(f"old{i}", route="chat", cost=1.0, counterfactual=2.0, created_at=OLD))
    return out


GRADES = [
    ("chat-s0", "correct", "judge", 1.0),
    ("chat-s1", "incorrect", "judge", 1.0),
    ("chat-s2", "incorrect", "human", 2.0),
    ("chat-s3", "unsure", "judge", 1.0),  # left out of the rate
    ("chat-e0", "incorrect", "judge", 1.0),  # not shipped: not a false-confident call
    ("old0", "incorrect", "judge", 1.0),  # outside the window
]


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> Engine:
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        for decision in dataset():
            writer.submit(decision)
    assert writer.stats().written == len(dataset())
    with engine.begin() as conn:
        conn.execute(
            grades.insert(),
            [
                {"decision_id": d, "verdict": v, "grader_kind": k, "weight": w, "created_at": NOW}
                for d, v, k, w in GRADES
            ],
        )
    return engine


def test_report_numbers_match_what_was_written(filled: Engine) -> None:
    report = build_report(filled, since=NOW - timedelta(hours=24))
    assert (report.calls, report.routed_calls, report.passthrough_calls, report.failed_calls) == (13, 12, 1, 1)
    assert report.escalated_calls == 4
    assert report.escalation_rate == pytest.approx(4 / 12)

    tiers = {(t.tier, t.model): t.calls for t in report.tiers}
    assert tiers == {
        (0, "claude-haiku-4-5"): 8,
        (1, "claude-opus-4-7"): 3,
        (None, "claude-opus-4-7"): 1,  # the pass-through call: no tier answered it
        (None, None): 1,
    }
    assert sum(t.share for t in report.tiers) == pytest.approx(1.0)
    assert [(r.reason, r.calls) for r in report.reasons] == [
        ("low_confidence", 2),
        ("invalid_output", 1),
        ("upstream_error", 1),
    ]
    assert report.reasons[0].share == pytest.approx(0.5)

    histogram = {round(b.low, 1): (b.calls, b.shipped) for b in report.confidence_histogram}
    assert len(histogram) == 10
    assert histogram[0.9] == (6, 6)
    assert histogram[0.8] == (2, 2)
    assert (histogram[0.2], histogram[0.3], histogram[0.5]) == ((1, 0), (1, 0), (1, 0))
    assert sum(c for c, _ in histogram.values()) == 11

    cost = report.cost
    assert round(cost.actual_usd, 2) == 0.51
    assert round(cost.counterfactual_usd, 2) == 1.45
    assert round(cost.savings_usd, 2) == 0.84
    assert cost.savings_pct == pytest.approx(100 * 0.84 / 1.35)
    assert (cost.costed_calls, cost.unknown_cost_calls) == (12, 1)

    latency = {s.outcome: (s.calls, s.p50_ms, s.p95_ms) for s in report.latency}
    assert latency == {
        "shipped": (8, 250.0, 600.0),
        "escalated": (3, 2000.0, 3000.0),
        "passthrough": (1, 700.0, 700.0),
        "failed": (1, 50.0, 50.0),
    }

    assert report.quality.graded_calls == 3
    assert report.quality.grades == 3
    assert report.quality.false_confident_rate == pytest.approx(3 / 4)

    routes = {r.route: r for r in report.routes}
    assert set(routes) == {"chat", "code"}
    assert routes["chat"].calls == 11
    assert routes["chat"].escalation_rate == pytest.approx(0.4)
    assert routes["chat"].actual_usd == pytest.approx(0.47)
    assert routes["chat"].savings_usd == pytest.approx(0.48)
    assert routes["code"].savings_usd == pytest.approx(0.36)


def test_report_filters_by_route_and_window(filled: Engine) -> None:
    code = build_report(filled, since=NOW - timedelta(hours=24), route="code")
    assert (code.calls, code.escalated_calls, code.escalation_rate) == (2, 0, 0.0)
    assert code.cost.actual_usd == pytest.approx(0.04)
    assert code.quality.false_confident_rate is None

    everything = build_report(filled, since=None)
    assert everything.calls == 18
    assert everything.cost.actual_usd == pytest.approx(5.51)

    only_old = build_report(filled, since=None, until=NOW - timedelta(days=1))
    assert only_old.calls == 5
    assert only_old.quality.false_confident_rate == pytest.approx(1.0)


def test_empty_report(engine: Engine) -> None:
    report = build_report(engine, since=NOW - timedelta(hours=1))
    assert report.calls == 0
    assert report.escalation_rate is None
    assert report.cost.savings_pct is None
    assert report.latency == ()
    assert all(b.calls == 0 for b in report.confidence_histogram)
    console = Console(record=True, width=100)
    render_report(report, console)
    assert "No decisions recorded" in console.export_text()


def test_report_to_dict_is_json_and_render_shows_the_numbers(filled: Engine) -> None:
    report = build_report(filled, since=NOW - timedelta(hours=24))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["calls"] == 13
    assert data["cost"]["unknown_cost_calls"] == 1
    assert data["since"].startswith(str((NOW - timedelta(hours=24)).year))
    assert data["latency"][0]["outcome"] == "shipped"

    console = Console(record=True, width=120)
    render_report(report, console)
    text = console.export_text()
    for expected in (
        "escalation rate",
        "33.3%",
        "$0.51",  # one precision for the summary's three amounts (set by $1.35)
        "$0.84 (62.2%)",
        "75.0%",
        "low_confidence",
        "claude-haiku-4-5",
        "2,000",
        "0.9-1.0",
        "code",
    ):
        assert expected in text, expected


def test_foreign_keys_are_enforced_on_both_dialects(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            grades.insert().values(
                decision_id="nope", verdict="correct", grader_kind="judge", weight=1.0, created_at=NOW
            )
        )
