"""Exploration in live mode: an escalated triage read to its end in background and judged against the final
tier's answer, weighted ``1 / explore_rate``, as evidence for the controller's lowering side.

End to end through the proxy and the fake upstream: the caller's response is the final tier's, as without
exploration, and completes while the exploration still reads the triage.
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
from tiered.quality.controller import explore_evidence
from tiered.quality.explore import Explorer, explore_picked
from tiered.quality.stats import FalseConfidentSummary
from tiered.server.thread import ProxyThread
from tiered.store import default_database_url, make_engine
from tiered.store.schema import shadow_results
from tiered.store.shadow import ShadowRow, read_shadow_rows, record_shadow, shadow_spent

WRONG = json.dumps({"reason": "made up", "verdict": "incorrect"})
RIGHT = json.dumps({"reason": "matches", "verdict": "correct"})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


def ask(proxy: ProxyThread, text: str, user: str, *, stream: bool = True) -> httpx2.Response:
    body = {
        "model": "tiered",
        "max_tokens": 200,
        "stream": stream,
        "metadata": {"user_id": user},
        "messages": [{"role": "user", "content": text}],
    }
    headers = {"x-api-key": "client-key-1", "anthropic-version": "2023-06-01"}
    return httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=30)


def explore_settings(fake: FakeUpstream, **overrides: Any) -> Settings:
    base = {
        "routes.default.explore_rate": 1.0,
        "routes.default.triage_when": "always",  # every request is triaged (the economics would skip short ones)
        "routes.default.slice_from": "metadata",
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


def _explorer(proxy: ProxyThread) -> Explorer:
    assert proxy.services is not None
    explorer = proxy.services.router.deps.explorer
    assert isinstance(explorer, Explorer)
    return explorer


def test_every_escalated_triage_is_read_to_its_end_and_judged(fake: FakeUpstream) -> None:
    settings = explore_settings(fake)
    asked = [
        (f'[[fake haiku:confidence=0.3 haiku:answer="a guess" opus:answer={json.dumps(WRONG)}]] hard {i}', "hard")
        for i in range(2)
    ] + [
        (f'[[fake haiku:confidence=0.4 haiku:answer="fine" opus:answer={json.dumps(RIGHT)}]] easy {i}', "easy")
        for i in range(2)
    ]
    with ProxyThread(settings) as proxy:
        for n, (text, user) in enumerate(asked):
            response = ask(proxy, text, user, stream=n % 2 == 0)  # a JSON response's triage is explored too
            assert response.status_code == 200
            # the caller's answer is the final tier's, as without exploration
            assert response.headers["x-tiered-model"] == "claude-opus-4-7"
            assert response.headers["x-tiered-escalated"] == "true"
            assert response.headers["x-tiered-reason"] == "low_confidence"
            assert "verdict" in response.text
        wait_for(lambda: len(_rows()) == len(asked), what="four explored results")
    rows = _rows()
    assert {(r.source, r.weight) for r in rows} == {("explore", 1.0)}
    by_slice = {s: sorted((r.confidence, r.problem, r.verdict) for r in rows if r.slice == s) for s in ("hard", "easy")}
    assert by_slice == {"hard": [(0.3, None, "incorrect")] * 2, "easy": [(0.4, None, "correct")] * 2}
    # the whole triage was paid for and priced, and the judge's call
    assert all(r.triage_cost_usd and r.judge_cost_usd and r.final_cost_usd for r in rows)


def test_the_response_does_not_wait_for_the_exploration(fake: FakeUpstream) -> None:
    """The triage stalls right after its confidence: the caller's response completes while the explorer is
    still reading the rest (its result is not recorded yet)."""
    settings = explore_settings(fake)
    stall = "haiku:fault=stall haiku:after=10 haiku:hang=60"
    guess = json.dumps(" ".join(f"word{i}" for i in range(60)))
    text = f"[[fake haiku:confidence=0.2 haiku:answer={guess} {stall} opus:answer={json.dumps(RIGHT)}]] slow"
    with ProxyThread(settings) as proxy:
        explorer = _explorer(proxy)
        response = ask(proxy, text, "slow")
        assert response.status_code == 200 and response.headers["x-tiered-escalated"] == "true"
        assert "message_stop" in response.text  # the whole answer, from the final tier
        assert explorer.pending() == 1 and explorer.counts["offered"] == 1
        assert _rows() == []  # still reading the stalled triage
        assert explorer.counts["recorded"] == 0


def test_the_pick_is_reproducible_and_off_by_default() -> None:
    spec = load_settings(environ={}, overrides={"routes.default.explore_rate": 0.25}).route("default")
    picks = [explore_picked(f"d{i}", spec) for i in range(400)]
    assert picks == [explore_picked(f"d{i}", spec) for i in range(400)]
    assert 60 < sum(picks) < 140
    off = load_settings(environ={}).route("default")
    assert off.explore_rate == 0 and not any(explore_picked(f"d{i}", off) for i in range(50))


def _row(ident: str, confidence: float, verdict: str, *, weight: float, source: str = "explore") -> ShadowRow:
    return ShadowRow(
        decision_id=ident,
        route="default",
        slice=None,
        model="claude-haiku-4-5",
        confidence=confidence,
        problem=None,
        verdict=verdict,
        triage_cost_usd=0.001,
        final_cost_usd=0.01,
        judge_cost_usd=0.002,
        created_at=datetime.now(UTC),
        source=source,
        weight=weight,
    )


def _summary(n: int, wrong: int) -> FalseConfidentSummary:
    return FalseConfidentSummary(
        route="default",
        tier=None,
        n=n,
        wrong=wrong,
        rate=wrong / n if n else None,
        upper_bound=1.0,
        level=0.95,
        target=0.05,
        effective_n=float(n),
    )


def test_explore_evidence_weights_the_band_and_the_shipped_grades(engine: Engine) -> None:
    settings = load_settings(
        environ={}, overrides={"routes.default.explore_rate": 0.5, "routes.default.audit_rate": 0.5}
    )
    # explored: in [0.7, 0.8) two right, one wrong; below the band and shadow rows do not count
    for ident, confidence, verdict in (("a", 0.75, "correct"), ("b", 0.72, "correct"), ("c", 0.7, "incorrect")):
        record_shadow(engine, _row(ident, confidence, verdict, weight=2.0))
    record_shadow(engine, _row("d", 0.5, "incorrect", weight=2.0))
    record_shadow(engine, _row("e", 0.75, "incorrect", weight=1.0, source="shadow"))
    # with the shipped grades above 0.8 (one wrong of three), all weighted 2: 2 wrong of 6 equal weights
    evidence = explore_evidence(engine, settings, "default", 0.7, 0.8, _summary(3, 1))
    assert evidence.source == "explore"
    assert evidence.n == pytest.approx(6.0) and evidence.wrong == pytest.approx(2.0)
    # unequal weights: the effective count shrinks (Kish), the rate is the weighted one
    uneven = load_settings(environ={}, overrides={"routes.default.explore_rate": 0.5, "routes.default.audit_rate": 0.1})
    evidence = explore_evidence(engine, uneven, "default", 0.7, 0.8, _summary(3, 0))
    total, squares = 3 * 2.0 + 3 * 10.0, 3 * 4.0 + 3 * 100.0
    assert evidence.n == pytest.approx(total**2 / squares)
    assert evidence.wrong / evidence.n == pytest.approx(2.0 / total)
    # the spend of each source is its own
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert shadow_spent(engine, "default", since, "explore") == pytest.approx(4 * 0.003)
    assert shadow_spent(engine, "default", since) == pytest.approx(0.003)
    assert len(read_shadow_rows(engine, source=None)) == 5 and len(read_shadow_rows(engine)) == 1
