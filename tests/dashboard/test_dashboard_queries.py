"""The dashboard's aggregates and lists, on SQLite and PostgreSQL, against known decisions (and ``tiered
report``'s figures on the same data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.store._store_helpers import make_decision
from tiered.dashboard.listing import decision_detail, recent_alerts, recent_decisions
from tiered.dashboard.queries import Scope, overview, series
from tiered.dashboard.window import parse_window
from tiered.decision import Decision, EscalationReason
from tiered.errors import InvalidRequestError
from tiered.store.grades import record_grade
from tiered.store.privacy import Content, ContentReason
from tiered.store.records import insert_records, to_record
from tiered.store.report import build_report
from tiered.store.schema import alerts, audit_samples

NOW = datetime(2026, 3, 4, 12, 0, 7, tzinfo=UTC)


def store(engine: Engine, *decisions: Decision, content: dict[str, Content] | None = None) -> None:
    records = [to_record(d, (content or {}).get(d.id), timedelta(days=30)) for d in decisions]
    with engine.begin() as conn:
        insert_records(conn, records)


def seed(engine: Engine) -> None:
    """Ten calls in the last hour on two routes and two keys, plus one two hours ago."""
    at = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 5, 8, 13, 21, 34, 40, 55)]
    store(
        engine,
        make_decision(
            "d01", "shipped", confidence=0.93, cost=0.001, counterfactual=0.01, created_at=at[0], key_id="k1"
        ),
        make_decision(
            "d02", "shipped", confidence=0.81, cost=0.002, counterfactual=0.02, created_at=at[1], key_id="k1"
        ),
        make_decision(
            "d03", "escalated", confidence=0.35, cost=0.03, counterfactual=0.02, created_at=at[2], key_id="k2"
        ),
        make_decision(
            "d04",
            "escalated",
            confidence=0.79,
            cost=0.025,
            counterfactual=0.02,
            created_at=at[3],
            reason=EscalationReason.INVALID_OUTPUT,
            key_id="k1",
        ),
        make_decision(
            "d05", "shipped", confidence=0.999, cost=None, counterfactual=0.02, created_at=at[4], key_id="k2"
        ),
        make_decision("d06", "passthrough", cost=0.05, counterfactual=0.05, created_at=at[5], key_id="k1"),
        make_decision("d07", "failed", confidence=None, cost=0.0005, counterfactual=None, created_at=at[6]),
        make_decision(
            "d08", "shipped", route="other", confidence=0.85, cost=0.001, counterfactual=0.004, created_at=at[7]
        ),
        make_decision(
            "d09", "escalated", route="other", confidence=0.05, cost=0.01, counterfactual=0.009, created_at=at[8]
        ),
        make_decision("d10", "shipped", confidence=0.8, cost=0.004, counterfactual=0.03, created_at=at[9], key_id="k2"),
        make_decision(
            "old", "shipped", confidence=0.9, cost=1.0, counterfactual=2.0, created_at=NOW - timedelta(hours=2)
        ),
    )


def test_windows() -> None:
    w = parse_window("15m")
    assert (w.span, w.bucket) == (timedelta(minutes=15), timedelta(seconds=30))
    assert parse_window("24h").bucket == timedelta(minutes=30)
    assert parse_window("30d").bucket == timedelta(days=1)
    assert parse_window("400d").span / parse_window("400d").bucket <= 48
    edges = parse_window("1h").edges(NOW)
    assert len(edges) == 32  # 12:00:07 is not on an edge: 30 buckets and the one still filling
    assert edges[0] <= NOW - timedelta(hours=1) < edges[1] and edges[-2] <= NOW < edges[-1]
    assert all(e.timestamp() % 120 == 0 for e in edges)  # aligned: the bars do not slide between refreshes
    for bad in ("", "1w", "0m", "15", "401d", "1h; drop table"):
        with pytest.raises(InvalidRequestError, match="window"):
            parse_window(bad)


def test_overview_matches_the_report(engine: Engine) -> None:
    seed(engine)
    since = NOW - timedelta(hours=1)
    o = overview(engine, Scope(since=since))
    report = build_report(engine, since=since)
    assert o.calls == report.calls == 10
    assert o.routed_calls == report.routed_calls == 9
    assert o.passthrough_calls == 1 and o.failed_calls == 1
    assert o.escalated_calls == report.escalated_calls == 4  # the failed call escalated first
    assert o.escalation_rate == pytest.approx(4 / 9) == report.escalation_rate
    assert o.shipped_calls == 5
    assert o.cost == report.cost
    # savings only where both costs are known: d05 (unknown cost) and d07 (unknown counterfactual) are left out
    known = [(0.001, 0.01), (0.002, 0.02), (0.03, 0.02), (0.025, 0.02), (0.05, 0.05), (0.001, 0.004), (0.01, 0.009)]
    known.append((0.004, 0.03))
    assert o.cost.savings_usd == pytest.approx(sum(cf - c for c, cf in known))
    assert o.cost.unknown_cost_calls == 1
    assert {r.reason: r.calls for r in o.reasons} == {"low_confidence": 3, "invalid_output": 1}


def test_histogram_counts_triage_attempts(engine: Engine) -> None:
    seed(engine)
    o = overview(engine, Scope(since=NOW - timedelta(hours=1), route="default"))
    buckets = {round(b.low, 2): (b.calls, b.shipped) for b in o.histogram if b.calls}
    # 0.93 and 0.999 share the top bucket; 0.8 and 0.81 the [0.80, 0.85) one; escalated triages count too
    assert buckets == {0.95: (1, 1), 0.9: (1, 1), 0.8: (2, 2), 0.75: (1, 0), 0.35: (1, 0)}
    assert len(o.histogram) == 20 and o.histogram[-1].high == 1.0


def test_scope_by_route_and_key(engine: Engine) -> None:
    seed(engine)
    since = NOW - timedelta(hours=1)
    other = overview(engine, Scope(since=since, route="other"))
    assert (other.calls, other.escalated_calls) == (2, 1)
    mine = overview(engine, Scope(since=since, key_id="k1"))
    assert mine.calls == 4 and mine.passthrough_calls == 1 and mine.escalated_calls == 1
    assert {r.id for r in recent_decisions(engine, Scope(since=since, key_id="k2"))} == {"d03", "d05", "d10"}
    assert overview(engine, Scope(since=None)).calls == 11


def test_series_buckets(engine: Engine) -> None:
    seed(engine)
    window = parse_window("1h")
    result = series(engine, Scope(since=None), window.edges(NOW))
    assert result.bucket_seconds == 120
    assert sum(p.calls for p in result.points) == 10  # the two-hour-old call is outside the chart
    by_start = {p.start: p for p in result.points if p.calls}
    latest = result.points[-1]  # 11:58 to 12:00 holds d02 (11:58:07); d01 (11:59:07) too
    assert latest.start == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert latest.calls == 0  # NOW is 12:00:07: nothing after it
    previous = result.points[-2]
    assert (previous.calls, previous.escalated_calls) == (2, 0)
    escalated_bucket = next(p for p in by_start.values() if p.start <= NOW - timedelta(minutes=3) < p.end)
    assert escalated_bucket.escalation_rate == 1.0
    total = overview(engine, Scope(since=result.points[0].start))
    assert sum(p.actual_usd for p in result.points) == pytest.approx(total.cost.actual_usd)
    assert sum(p.savings_usd for p in result.points) == pytest.approx(total.cost.savings_usd)


def test_series_marks_the_bucket_still_filling(engine: Engine) -> None:
    seed(engine)
    edges = parse_window("1h").edges(NOW)
    points = series(engine, Scope(since=None), edges, now=NOW).points
    assert [p.partial for p in points] == [False] * (len(points) - 1) + [True]  # 12:00 to 12:02 ends after NOW
    assert not any(p.partial for p in series(engine, Scope(since=None), edges).points)  # no now: none is


def test_recent_decisions_and_detail(engine: Engine) -> None:
    seed(engine)
    text = Content("What is 2 + 2?", "4", ContentReason.AUDIT)
    store(engine, make_decision("d11", "shipped", confidence=0.9, created_at=NOW), content={"d11": text})
    with engine.begin() as conn:
        conn.execute(
            sa.insert(audit_samples).values(
                decision_id="d11", route="default", sampler="uniform", probability=0.5, status="pending", created_at=NOW
            )
        )
    rows = recent_decisions(engine, Scope(since=NOW - timedelta(hours=1)), limit=4)
    assert [r.id for r in rows] == ["d11", "d01", "d02", "d03"]
    assert rows[0].audit == "pending" and rows[0].verdict is None
    assert rows[3].outcome == "escalated" and rows[3].confidence == 0.35
    older = recent_decisions(engine, Scope(since=None), limit=2, before=rows[3].created_at)
    assert [r.id for r in older] == ["d04", "d05"]

    record_grade(engine, "d11", "incorrect", "human", grader="ops", reason="it is four")
    detail = decision_detail(engine, "d11")
    assert detail is not None
    assert detail["request_text"] == "What is 2 + 2?" and detail["answer_text"] == "4"
    assert detail["audit"]["status"] == "graded"
    assert [(g["verdict"], g["grader_kind"], g["grader"]) for g in detail["grades"]] == [("incorrect", "human", "ops")]
    assert recent_decisions(engine, Scope(since=None), limit=1)[0].verdict == "incorrect"
    untold = decision_detail(engine, "d03")
    assert untold is not None and untold["request_text"] is None and len(untold["attempts"]) == 2
    assert decision_detail(engine, "nope") is None


def test_recent_alerts(engine: Engine) -> None:
    with engine.begin() as conn:
        for i, route in enumerate(["default", None, "other"]):
            conn.execute(
                sa.insert(alerts).values(
                    kind="escalation_storm",
                    route=route,
                    severity="warning",
                    message=f"alert {i}",
                    details={"rate": 0.5},
                    created_at=NOW + timedelta(seconds=i),
                )
            )
    assert [a.message for a in recent_alerts(engine, route="default")] == ["alert 1", "alert 0"]
    assert [a.message for a in recent_alerts(engine, route=None, limit=2)] == ["alert 2", "alert 1"]
    assert recent_alerts(engine, route="default")[1].details == {"rate": 0.5}
