"""Requests through the proxy end up in the decision store, and `tiered report` tells the truth about them:
counts, escalations, reasons and costs to the cent, on SQLite and PostgreSQL, with several replicas."""

from __future__ import annotations

import json

import httpx2
import pytest
from typer.testing import CliRunner

from tiered.cli import app
from tiered.config import load_settings
from tiered.decision import Decision
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread
from tiered.store import build_report, make_engine

PROMPTS = [
    "[[fake confidence=0.93]] easy one",
    "[[fake confidence=0.88]] easy two",
    "[[fake haiku:confidence=0.2]] hard one",
    "[[fake haiku:fault=not_json]] broken triage",
    "[[fake confidence=0.97]] easy three",
]


def send(proxy: ProxyThread, prompts: list[str]) -> list[str]:
    ids = []
    for prompt in prompts:
        response = httpx2.post(
            f"{proxy.url}/v1/messages",
            json={"model": "tiered", "max_tokens": 200, "messages": [{"role": "user", "content": prompt}]},
            headers={"x-api-key": "client-key"},
        )
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-tiered-decision-id"])
    return ids


def decisions_of(proxy: ProxyThread, ids: list[str]) -> list[Decision]:
    found = [proxy.decisions().get(i) for i in ids]
    assert all(found)
    return [d for d in found if d is not None]


def test_report_matches_what_was_sent(upstream: FakeUpstream, db_url: str) -> None:
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "TIERED_DATABASE_URL": db_url})
    with ProxyThread(settings) as proxy:
        ids = send(proxy, PROMPTS)
        decisions = decisions_of(proxy, ids)
    # stopping the proxy flushed its writer
    engine = make_engine(db_url)
    report = build_report(engine, since=None)
    engine.dispose()
    assert report.calls == 5 and report.escalated_calls == 2
    assert report.escalation_rate == pytest.approx(0.4)
    assert {r.reason: r.calls for r in report.reasons} == {"low_confidence": 1, "invalid_output": 1}
    assert {t.model: t.calls for t in report.tiers} == {"claude-haiku-4-5": 3, "claude-opus-4-7": 2}
    assert report.cost.actual_usd == pytest.approx(sum(d.cost_usd or 0 for d in decisions), abs=1e-9)
    assert report.cost.counterfactual_usd == pytest.approx(
        sum(d.counterfactual_cost_usd or 0 for d in decisions), abs=1e-9
    )
    # the histogram counts every first-tier confidence read (the broken triage has none), shipped or not
    assert sum(b.calls for b in report.confidence_histogram) == 4
    assert sum(b.shipped for b in report.confidence_histogram) == 3
    result = CliRunner().invoke(app, ["report", "--since", "all", "--json", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    as_json = json.loads(result.stdout)
    assert as_json["calls"] == 5 and as_json["escalated_calls"] == 2


@pytest.mark.postgres
def test_two_replicas_one_report(upstream: FakeUpstream, pg_url: str) -> None:
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, "TIERED_DATABASE_URL": pg_url})
    with ProxyThread(settings) as a, ProxyThread(settings) as b:
        decisions = decisions_of(a, send(a, PROMPTS)) + decisions_of(b, send(b, PROMPTS[:3]))
    engine = make_engine(pg_url)
    report = build_report(engine, since=None)
    engine.dispose()
    assert report.calls == 8 and report.escalated_calls == 3
    assert report.cost.actual_usd == pytest.approx(sum(d.cost_usd or 0 for d in decisions), abs=1e-9)
    assert len({d.replica for d in decisions}) == 2
