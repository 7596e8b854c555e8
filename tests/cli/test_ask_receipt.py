"""`tiered ask`'s receipt (issue #20, item 4): the decision id it prints can be looked up, and money reads
the way the dashboard writes it (sign before the symbol)."""

from __future__ import annotations

import re

import httpx2
import pytest
from typer.testing import CliRunner

from tiered.cli import app
from tiered.config import load_settings, tiered_home
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread
from tiered.store import KeyStore, default_database_url, load_pepper, make_engine, upgrade
from tiered.store.lookup import load_decision

runner = CliRunner()


@pytest.fixture
def offline(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", upstream.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0000")
    return upstream


def _decision_id(stderr: str) -> str:
    found = re.search(r"^decision\s+(\S+) \(stored in ", stderr, re.MULTILINE)
    assert found, stderr
    return found.group(1)


def test_the_printed_decision_id_is_in_the_store_and_the_proxy_finds_it(offline: FakeUpstream) -> None:
    result = runner.invoke(app, ["ask", "[[fake confidence=0.95]] What is 2+2?"])
    assert result.exit_code == 0, result.output
    decision_id = _decision_id(result.stderr)
    engine = make_engine(default_database_url())
    upgrade(engine)
    try:
        stored = load_decision(engine, decision_id)
        assert stored is not None and stored["id"] == decision_id
        _, admin = KeyStore(engine, load_pepper(tiered_home())).create("ops", admin=True)
    finally:
        engine.dispose()
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": offline.url, "ANTHROPIC_API_KEY": "sk-ant-server-0"})
    with ProxyThread(settings) as proxy:
        found = httpx2.get(f"{proxy.url}/v1/tiered/decisions/{decision_id}", headers={"x-api-key": admin})
        assert found.status_code == 200 and found.json()["id"] == decision_id
        missing = httpx2.get(f"{proxy.url}/v1/tiered/decisions/dec_nope", headers={"x-api-key": admin})
    assert missing.status_code == 404
    message = missing.json()["error"]["message"]
    assert "in-memory window" not in message and "decision store" in message


def test_no_store_prints_no_id(offline: FakeUpstream) -> None:
    result = runner.invoke(app, ["ask", "--no-store", "[[fake confidence=0.95]] hi"])
    assert result.exit_code == 0, result.output
    assert "decision " not in result.stderr and "dec_" not in result.stderr


def test_a_loss_is_written_minus_dollar(offline: FakeUpstream) -> None:
    """An escalation costs the triage on top of the final tier: savings are negative."""
    result = runner.invoke(app, ["ask", "--no-store", "[[fake confidence=0.1]] a hard one"])
    assert result.exit_code == 0, result.output
    savings = next(line for line in result.stderr.splitlines() if line.startswith("savings"))
    assert re.fullmatch(r"savings\s+-\$0\.\d+ \(-\d+%\)", savings), savings
    assert "$-" not in result.stderr
