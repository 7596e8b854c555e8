"""``tiered backtest --from-log --replay-rule``: the expected-cost rule replayed on logged decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.engine import Engine

from tiered.accounting import WRAPPER_TOKENS
from tiered.config import Settings
from tiered.decision import Attempt, AttemptRole, Decision, EscalationReason, Outcome, TokenUsage
from tiered.economics.replay import LoggedTurn, replay
from tiered.offline.from_log import LogQuery
from tiered.offline.rule_replay import print_replay, replay_log
from tiered.pricing import PriceBook
from tiered.store.writer import DecisionWriter, WriterConfig

START = datetime.now(UTC) - timedelta(hours=1)
HAIKU, OPUS = "claude-haiku-4-5", "claude-opus-4-7"
# "What is 17 * 23?" as tiered triages it: 11 prompt tokens and the 280-token instruction, a 12-token answer
TRIAGE = TokenUsage(input_tokens=291, output_tokens=12 + WRAPPER_TOKENS)
TRIAGE_COST = (291 * 1 + 24 * 5) / 1e6  # $0.000411
DIRECT_COST = (11 * 5 + 12 * 25) / 1e6  # $0.000355, Opus alone


def _short(n: int) -> LoggedTurn:
    return LoggedTurn(f"dec_{n:03d}", 1, HAIKU, OPUS, TRIAGE, True, None, TRIAGE_COST, DIRECT_COST)


def test_short_answers_are_replayed_as_not_worth_their_triage() -> None:
    """The first turns are triaged (300-token answers assumed); once about a hundred 12-token answers are seen,
    each later turn would have gone to Opus directly, saving $0.000411 - $0.000355 = $0.000056 a turn."""
    result = replay([_short(n) for n in range(150)], PriceBook())
    assert len(result.turns) == 150 and result.unpriced == 0
    skipped = result.skipped
    assert skipped and skipped[0].id > "dec_090" and not result.turns[0].skipped
    assert all(t.difference_usd == pytest.approx(DIRECT_COST - TRIAGE_COST) for t in skipped)
    assert result.difference_usd == pytest.approx(len(skipped) * (DIRECT_COST - TRIAGE_COST))
    assert "answered directly by claude-opus-4-7" in skipped[0].detail


def _logged(n: int, *, shipped: bool) -> Decision:
    """A 12-token answer to a short question, shipped by Haiku or escalated to Opus."""
    triage = Attempt(
        0, HAIKU, AttemptRole.TRIAGE, Outcome.SHIPPED if shipped else Outcome.ESCALATED, 0.9 if shipped else 0.2,
        None if shipped else EscalationReason.LOW_CONFIDENCE, usage=TRIAGE if shipped else TokenUsage(291, 16),
        cost_usd=TRIAGE_COST if shipped else (291 + 80) / 1e6,
    )  # fmt: skip
    final = Attempt(1, OPUS, AttemptRole.FINAL, Outcome.ANSWERED, usage=TokenUsage(11, 12), cost_usd=DIRECT_COST)
    attempts = (triage,) if shipped else (triage, final)
    cost = sum(a.cost_usd or 0.0 for a in attempts)
    return Decision(
        f"dec_{n:03d}", "default", START + timedelta(seconds=n), attempts, attempts[-1].model, len(attempts) - 1,
        not shipped, None if shipped else EscalationReason.LOW_CONFIDENCE, 0.9 if shipped else None, 0.8, cost,
        DIRECT_COST, 100.0, depth=1,
    )  # fmt: skip


def test_the_cli_replays_the_log(engine: Engine, tmp_path: Path) -> None:
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        for n in range(150):
            writer.submit(_logged(n, shipped=n % 5 != 0))  # one in five escalates
    url = engine.url.render_as_string(hide_password=False)
    route, result, read = replay_log(LogQuery(database_url=url, route="default"), Settings())
    assert (route, read, result.unpriced) == ("default", 150, 0)
    skipped = result.skipped
    assert skipped, "short answers with a 20% escalation rate are not worth their triage"
    escalated = [t for t in skipped if not t.shipped]
    assert escalated and all(t.difference_usd == pytest.approx(-(291 + 80) / 1e6) for t in escalated)
    console = Console(record=True, width=200)
    print_replay(console, route, result, read)
    text = console.export_text()
    assert f"would not have triaged {len(skipped)}" in text and "dec_" in text


def test_tiered_backtest_from_log_replay_rule(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tiered.cli import app

    monkeypatch.setenv("TIERED_HOME", str(tmp_path / "home"))
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        for n in range(150):
            writer.submit(_logged(n, shipped=True))
    url = engine.url.render_as_string(hide_password=False)
    args = ["backtest", "--from-log", "--replay-rule", "--database-url", url, "--route", "default"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "150 triaged decisions" in result.output and "would not have triaged" in result.output
    refused = CliRunner().invoke(app, ["backtest", "--replay-rule", "outcomes.csv"])
    assert refused.exit_code == 2 and "--replay-rule goes with --from-log" in refused.output
