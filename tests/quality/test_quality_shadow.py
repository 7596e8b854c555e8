"""Shadow mode: the final tier answers everything, a share is triaged and judged in background, and the
projections and the backtest read the results.

End to end through the proxy and the fake upstream: the caller gets the final tier's answer untouched (no
triage on the request path, no escalation reason), while ``shadow_results`` fills with the first tier's
confidence and the judge's pairwise verdict, per slice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.quality._quality_helpers import wait_for

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.quality.projection import project, shadow_projections
from tiered.quality.shadow import shadow_picked
from tiered.server.thread import ProxyThread
from tiered.store import default_database_url, make_engine
from tiered.store.schema import decisions, shadow_results
from tiered.store.shadow import ShadowRow, read_shadow_rows, record_shadow, shadow_spent

WRONG = json.dumps({"reason": "made up", "verdict": "incorrect"})
RIGHT = json.dumps({"reason": "matches", "verdict": "correct"})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


def ask(proxy: ProxyThread, text: str, user: str, stream: bool = False) -> httpx2.Response:
    body = {
        "model": "tiered",
        "max_tokens": 200,
        "stream": stream,
        "metadata": {"user_id": user},
        "messages": [{"role": "user", "content": text}],
    }
    headers = {"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"}
    return httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=30)


def shadow_settings(fake: FakeUpstream, **overrides: Any) -> Settings:
    """A shadow route that triages every request in background, with the judge on."""
    base = {
        "routes.default.mode": "shadow",
        "routes.default.shadow_share": 1.0,
        "judge.enabled": "on",
        "judge.poll_interval_s": 0.05,
    }
    return load_settings(environ={"ANTHROPIC_BASE_URL": fake.url}, overrides={**base, **overrides})


def _rows() -> list[Any]:
    engine = make_engine(default_database_url())
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(shadow_results).order_by(shadow_results.c.decision_id)))
    finally:
        engine.dispose()


def test_shadow_answers_with_the_final_tier_and_judges_the_cheap_tier_in_background(fake: FakeUpstream) -> None:
    settings = shadow_settings(fake, **{"routes.default.slice_from": "metadata"})
    asked = [
        (f"[[fake haiku:confidence=0.95 opus:answer={json.dumps(WRONG)}]] hard {i}", "team-hard") for i in range(3)
    ] + [(f"[[fake haiku:confidence=0.6 opus:answer={json.dumps(RIGHT)}]] easy {i}", "team-easy") for i in range(3)]
    with ProxyThread(settings) as proxy:
        for n, (text, user) in enumerate(asked):
            response = ask(proxy, text, user, stream=n % 2 == 1)
            assert response.status_code == 200
            # the caller sees the final tier, as without tiered: no triage, no escalation, no reason
            assert response.headers["x-tiered-model"] == "claude-opus-4-7"
            assert response.headers["x-tiered-escalated"] == "false"
            assert response.headers["x-tiered-reason"] == ""
        wait_for(lambda: len(_rows()) == len(asked), what="six shadow results")
        calls = [r for r in fake.requests if r.model == "claude-haiku-4-5"]
        assert all(r.is_triage for r in calls) and len(calls) >= len(asked)
    rows = _rows()
    by_slice = {s: [r for r in rows if r.slice == s] for s in ("team-hard", "team-easy")}
    assert [(r.confidence, r.problem, r.verdict) for r in by_slice["team-hard"]] == [(0.95, None, "incorrect")] * 3
    assert [(r.confidence, r.problem, r.verdict) for r in by_slice["team-easy"]] == [(0.6, None, "correct")] * 3
    assert all(r.triage_cost_usd and r.judge_cost_usd and r.final_cost_usd for r in rows)
    engine = make_engine(default_database_url())
    try:
        with engine.connect() as conn:
            stored = list(conn.execute(sa.select(decisions.c.mode, decisions.c.slice, decisions.c.shipped)))
        assert sorted(stored) == sorted([("shadow", user, False) for _, user in asked])
        projections = {(p.route, p.slice): p for p in shadow_projections(engine, settings, recommend=False)}
    finally:
        engine.dispose()
    hard, easy, whole = (
        projections[("default", "team-hard")],
        projections[("default", "team-easy")],
        projections[("default", None)],
    )
    at = {p.threshold: p for p in whole.points}
    # at 0.5 both slices ship: 3 wrong of 6; at 0.8 only the hard slice's confident (and wrong) answers ship
    assert (at[0.5].shipped, at[0.5].wrong, at[0.8].shipped, at[0.8].wrong) == (6, 3, 3, 3)
    assert {p.threshold: p.wrong for p in easy.points}[0.5] == 0 and hard.n == easy.n == 3


def _row(ident: str, confidence: float | None, verdict: str | None, *, problem: str | None = None) -> ShadowRow:
    return ShadowRow(
        decision_id=ident,
        route="default",
        slice=None,
        model="claude-haiku-4-5",
        confidence=confidence,
        problem=problem,
        verdict=verdict,
        triage_cost_usd=0.001,
        final_cost_usd=0.01,
        judge_cost_usd=0.002,
        created_at=datetime.now(UTC),
    )


def test_projection_counts_ships_savings_and_the_bound() -> None:
    rows = [_row("a", 0.9, "correct"), _row("b", 0.9, "incorrect"), _row("c", 0.7, "unsure")]
    rows.append(_row("d", None, None, problem="invalid_output"))
    low, high = project(rows, [0.6, 0.8], level=0.95)
    assert (low.shipped, low.graded, low.wrong, low.ship_rate) == (3, 2, 1, 0.75)
    assert (high.shipped, high.graded, high.wrong) == (2, 2, 1)
    # three answers replace the final tier at 0.6: 3 * 0.01 saved, 4 triage calls paid
    assert low.savings_usd == pytest.approx(0.03 - 0.004) and low.savings_share == pytest.approx(0.026 / 0.04)
    assert high.false_confident_rate == 0.5 and 0.5 < high.upper_bound < 1.0
    assert project([], [0.5], level=0.95)[0].upper_bound == 1.0


def test_store_round_trip_and_spend(engine: Engine) -> None:
    assert record_shadow(engine, _row("x", 0.9, "correct"))
    assert not record_shadow(engine, _row("x", 0.9, "correct"))  # once per decision
    (row,) = read_shadow_rows(engine, route="default")
    assert row.decision_id == "x" and row.verdict == "correct"
    assert shadow_spent(engine, "default", datetime(2000, 1, 1, tzinfo=UTC)) == pytest.approx(0.003)


def test_the_pick_is_reproducible_and_skips_live_routes() -> None:
    from tests.quality._quality_helpers import escalated

    settings = load_settings(
        environ={}, overrides={"routes.default.mode": "shadow", "routes.default.shadow_share": 0.5}
    )
    spec = settings.route("default")
    picks = [shadow_picked(escalated(f"d{i}"), spec) for i in range(400)]
    assert picks == [shadow_picked(escalated(f"d{i}"), spec) for i in range(400)]
    assert 150 < sum(picks) < 250
    assert not any(shadow_picked(escalated(f"d{i}"), load_settings(environ={}).route("default")) for i in range(50))


def test_tiered_report_shows_the_projection_and_the_recommendation() -> None:
    import typer
    from typer.testing import CliRunner

    from tiered.store import commands
    from tiered.store.migrate import upgrade

    app = typer.Typer()
    app.command("report")(commands.report)
    app.command("export")(commands.export)
    engine = make_engine(default_database_url())
    try:
        upgrade(engine)
        # 300 right answers at 0.9, 40 wrong at 0.6: only thresholds above 0.6 can be certified under 5%
        for i in range(300):
            record_shadow(engine, _row(f"r{i:03d}", 0.9, "correct"))
        for i in range(40):
            record_shadow(engine, _row(f"w{i:03d}", 0.6, "incorrect"))
    finally:
        engine.dispose()
    result = CliRunner().invoke(app, ["report", "--json", "--since", "all"])
    assert result.exit_code == 0, result.output
    (projection,) = json.loads(result.stdout)["shadow"]
    at = {p["threshold"]: p for p in projection["points"]}
    assert at[0.6]["wrong"] == 40 and at[0.65]["wrong"] == 0 and at[0.65]["upper_bound"] < 0.05
    rec = projection["recommendation"]
    assert rec["met"] and 0.6 < rec["threshold"] <= 0.9 and rec["bound"]["value"] <= 0.05
    text = CliRunner().invoke(app, ["report", "--since", "all"])
    assert "Shadow projection: default" in text.stdout and "backtest --from-log" in text.stdout


def test_a_clean_slice_gets_a_lower_threshold_than_a_noisy_one(fake: FakeUpstream) -> None:
    """Through the proxy: slices from the system prompt; the slice whose cheap answers are all right is
    recommended a lower threshold than the slice whose low-confidence answers are wrong, each with its bound."""
    from concurrent.futures import ThreadPoolExecutor

    settings = shadow_settings(
        fake,
        **{"routes.default.slice_from": "system", "routes.default.max_false_confident": 0.2, "judge.concurrency": 8},
    )
    right, wrong = json.dumps(RIGHT), json.dumps(WRONG)
    asked = [
        ("Task A", f"[[fake haiku:confidence=0.6 opus:output_tokens=1500 opus:answer={right}]] a{i}") for i in range(50)
    ]
    asked += [
        ("Task B", f"[[fake haiku:confidence=0.95 opus:output_tokens=1500 opus:answer={right}]] b{i}")
        for i in range(50)
    ]
    asked += [
        ("Task B", f"[[fake haiku:confidence=0.7 opus:output_tokens=1500 opus:answer={wrong}]] w{i}") for i in range(20)
    ]

    def send(proxy: ProxyThread, system: str, text: str) -> int:
        body = {"model": "tiered", "max_tokens": 100, "system": system, "messages": [{"role": "user", "content": text}]}
        headers = {"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"}
        return httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=30).status_code

    with ProxyThread(settings) as proxy, ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda a: send(proxy, *a), asked)) == {200}
        wait_for(lambda: len(_rows()) == len(asked), timeout=60, what="120 shadow results")
    engine = make_engine(default_database_url())
    try:
        found = {p.slice: p for p in shadow_projections(engine, settings) if p.slice is not None}
    finally:
        engine.dispose()
    assert len(found) == 2 and all(s.startswith("sys:") for s in found)
    by_n = sorted(found.values(), key=lambda p: p.n)  # A: 50 rows, B: 70
    clean, noisy = by_n[0].recommendation, by_n[1].recommendation
    assert clean is not None and noisy is not None
    assert clean["met"] and noisy["met"], (clean["message"], noisy["message"])
    assert clean["threshold"] <= 0.6 < 0.7 < noisy["threshold"]
    assert clean["bound"]["value"] <= 0.2 and noisy["bound"]["value"] <= 0.2


def test_the_shadow_spend_cap_stops_background_triage(fake: FakeUpstream) -> None:
    from tiered.quality.loop import QualityLoop

    settings = shadow_settings(fake, **{"routes.default.shadow_spend_cap_usd": 0.0})
    before = len([r for r in fake.requests if r.model == "claude-haiku-4-5"])
    with ProxyThread(settings) as proxy:
        quality: QualityLoop = proxy.app.state.quality
        assert quality.shadow is not None
        for i in range(3):
            assert ask(proxy, f"capped {i}", "team").status_code == 200
        shadow = quality.shadow
        wait_for(lambda: shadow.counts["capped"] == 3, what="three capped shadow picks")
        metrics = httpx2.get(f"{proxy.url}/metrics", timeout=10).text
        assert 'tiered_shadow_requests_total{result="capped"} 3.0' in metrics
    assert len([r for r in fake.requests if r.model == "claude-haiku-4-5"]) == before  # no triage was sent
    assert _rows() == []


def test_backtest_from_log_reads_shadow_results_for_a_shadow_route(db_url: str) -> None:
    from tiered.offline.from_log import LogQuery, log_outcomes
    from tiered.store.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        record_shadow(engine, _row("a", 0.9, "correct"))
        record_shadow(engine, _row("b", 0.7, "incorrect"))
        record_shadow(engine, _row("c", 0.8, "unsure"))  # no decisive verdict: skipped
        record_shadow(engine, _row("d", None, None, problem="no_answer"))  # never ships: kept, no confidence
    finally:
        engine.dispose()
    settings = load_settings(environ={}, overrides={"routes.default.mode": "shadow", "database_url": db_url})
    outcomes, log = log_outcomes(LogQuery(database_url=db_url, route="default"), settings)
    assert log.shadow and outcomes.n == 3 and log.skipped == {"without a decisive verdict": 1}
    records = sorted(log.records, key=lambda r: r.id)  # read newest first
    assert [r.correct for r in records] == [(True, True), (False, True), (False, True)]
    assert [r.confidence for r in records] == [(0.9,), (0.7,), (None,)]
    assert "From shadow results" in log.notes()[0]
