"""`tiered backtest --from-log` on a store written by the real router and DecisionWriter, graded with record_grade."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tiered.config import load_settings
from tiered.decision import Decision
from tiered.errors import ConfigError, UpstreamError
from tiered.fake_upstream import FakeUpstream, Scenario
from tiered.offline import commands
from tiered.offline.from_log import LogQuery, log_outcomes, read_log, threshold_grid
from tiered.offline.outcomes import BacktestInputError
from tiered.router import Exchange, Router
from tiered.store import DecisionWriter, WriterConfig, make_engine, upgrade
from tiered.store.grades import record_grade
from tiered.store.records import insert_records, to_record

# (confidence, the triage answers, verdict on the answer the caller got, extra grade given later or None)
SCRIPT: list[tuple[float, bool, str, str | None]] = [
    (0.95, True, "correct", None),
    (0.9, True, "incorrect", None),
    (0.85, True, "correct", "incorrect"),  # graded twice: the later verdict counts
    (0.82, True, "incorrect", "unsure"),  # an unsure grade does not replace a verdict
    (0.99, True, "unsure", None),  # only unsure: left out
    (0.6, True, "correct", None),  # escalated on low confidence (an answer was given, not kept)
    (0.3, False, "incorrect", None),  # escalated: no answer
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


def request(i: int, confidence: float, answers: bool, route_tag: str = "") -> dict[str, object]:
    answer = 'haiku:answer="An answer."' if answers else "haiku:answer=null"
    text = f"[[fake haiku:confidence={confidence} {answer} input_tokens=500 output_tokens=60]] {route_tag}Question {i}?"
    return {"max_tokens": 200, "messages": [{"role": "user", "content": text}]}


@pytest.fixture
def logged(fake: FakeUpstream, tmp_path: Path) -> Iterator[tuple[Engine, str, list[Decision]]]:
    """Route SCRIPT through the real router, record it with the DecisionWriter, grade it."""
    import anyio

    url = f"sqlite:///{tmp_path / 'tiered.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings(
        environ={
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-ant-test-0000",
            "TIERED_PROVIDERS__ANTHROPIC__MAX_RETRIES": "0",
        }
    )
    writer = DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool", cleanup_interval_s=None)).start()
    decisions: list[Decision] = []

    def observe(decision: Decision, exchange: Exchange) -> None:
        decisions.append(decision)
        writer.submit(decision)

    async def route_all() -> None:
        router = Router(settings, observers=[observe])
        try:
            for i, (confidence, answers, _, _) in enumerate(SCRIPT):
                await router.create(request(i, confidence, answers))
            await router.create(request(99, 0.9, True))  # recorded, never graded
            await router.create(request(98, 0.95, True, "three "), route="three-tier")
            with pytest.raises(UpstreamError):  # every tier fails: a decision with an error
                await router.create(
                    {"max_tokens": 10, "messages": [{"role": "user", "content": "[[fake fault=500]] q"}]}
                )
        finally:
            await router.aclose()

    anyio.run(route_all)
    writer.close()
    for decision, (_, _, verdict, later) in zip(decisions, SCRIPT, strict=False):
        record_grade(engine, decision.id, verdict, "judge", weight=2.0 if verdict == "incorrect" else 1.0)
        if later is not None:
            record_grade(engine, decision.id, later, "human", now=datetime.now(UTC) + timedelta(seconds=1))
    record_grade(engine, decisions[-1].id, "correct", "app")  # a graded failure: skipped
    yield engine, url, decisions
    engine.dispose()


def test_records_from_graded_decisions(logged: tuple[Engine, str, list[Decision]]) -> None:
    engine, _, decisions = logged
    log = read_log(engine, route="default")
    assert log.route == "default" and log.graded == 7  # 6 with a verdict on this route, plus the failure
    assert log.skipped == {"failed or passthrough": 1}
    by_id = {r.id: r for r in log.records}
    assert len(by_id) == 6 and decisions[4].id not in by_id
    expected = {
        0: ((0.95,), (True, True)),
        1: ((0.9,), (False, True)),
        2: ((0.85,), (False, True)),
        3: ((0.82,), (False, True)),
        5: ((0.6,), (False, True)),  # escalated: the cheap answer is counted wrong, the final one graded right
        6: ((0.3,), (False, False)),  # a null answer is not logged when the confidence is low: counted wrong
    }
    for index, (confidence, correct) in expected.items():
        record, decision = by_id[decisions[index].id], decisions[index]
        assert record.confidence == confidence and record.correct == correct, index
        triage = decision.attempts[0]
        if decision.escalated:
            assert record.cost_usd == (triage.cost_usd, decision.attempts[1].cost_usd)
        else:
            assert record.cost_usd == (triage.cost_usd, decision.counterfactual_cost_usd)
    assert (log.shipped, log.escalated, log.weighted) == (4, 2, 3)
    assert log.production_threshold == 0.8
    notes = " ".join(log.notes())
    assert "4 shipped" in notes and "2 escalated" in notes and "counted right" in notes and "counted wrong" in notes
    assert "stratified" in notes


def test_routes_windows_and_refusals(logged: tuple[Engine, str, list[Decision]]) -> None:
    engine, _, decisions = logged
    record_grade(engine, decisions[8].id, "correct", "human")  # the three-tier route's decision
    with pytest.raises(ConfigError, match=r"several routes: default \(\d+\), three-tier \(1\)"):
        read_log(engine)
    with pytest.raises(ConfigError, match="three or more tiers"):
        read_log(engine, route="three-tier", route_tiers={"three-tier": 3})
    with pytest.raises(ConfigError, match="three or more tiers"):
        log_outcomes(LogQuery(database_url=logged[1], route="three-tier"))  # the configured routes say so
    with pytest.raises(BacktestInputError, match="no graded decisions of route 'default' in the window"):
        read_log(engine, route="default", since=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(BacktestInputError, match="no graded decisions of route 'other'"):
        read_log(engine, route="other")


def test_log_outcomes_opens_the_configured_database(logged: tuple[Engine, str, list[Decision]]) -> None:
    _, url, _ = logged
    outcomes, log = log_outcomes(LogQuery(database_url=url, route="default"))
    assert outcomes.n == len(log.records) == 6 and outcomes.tiers == 2
    assert outcomes.has_confidence[:, 0].tolist() == [r.confidence[0] is not None for r in log.records]
    with pytest.raises(ConfigError, match="tiered db upgrade"):
        log_outcomes(LogQuery(database_url=url.replace("tiered.db", "missing.db")))


def test_an_empty_usable_set_says_why(tmp_path: Path) -> None:
    from tiered.decision import Attempt, AttemptRole, Outcome, TokenUsage

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    final = Attempt(1, "claude-opus-4-7", AttemptRole.FINAL, Outcome.ANSWERED, usage=TokenUsage(5, 5), cost_usd=0.01)
    direct = Decision(
        id="d1",
        route="default",
        created_at=datetime.now(UTC),
        attempts=(final,),
        answered_by="claude-opus-4-7",
        answer_tier=1,
        escalated=False,
        reason=None,
        confidence=None,
        threshold=None,
        cost_usd=0.01,
        counterfactual_cost_usd=0.01,
        latency_ms=5.0,
    )
    with engine.begin() as conn:
        insert_records(conn, [to_record(direct, None, timedelta(days=1))])
    record_grade(engine, "d1", "correct", "human")
    with pytest.raises(BacktestInputError, match=r"none of the 1 graded decisions .*\(1 not triaged\)"):
        log_outcomes(LogQuery(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    engine.dispose()


def test_threshold_grid() -> None:
    assert threshold_grid(None, 11) is None
    assert threshold_grid(0.8, 11) == [0.8, 0.9, 1.0]
    assert threshold_grid(0.75, 11) == [0.75, 0.8, 0.9, 1.0]


app = typer.Typer()
app.command("backtest")(commands.backtest)


@app.command()
def version() -> None:
    """A second command, so that `backtest` is a subcommand as in the real CLI."""


runner = CliRunner()


def test_cli_from_log(logged: tuple[Engine, str, list[Decision]], monkeypatch: pytest.MonkeyPatch) -> None:
    _, url, _ = logged
    args = ["backtest", "--from-log", "--route", "default", "--since", "1h", "--json"]
    result = runner.invoke(app, [*args, "--database-url", url, "--max-false-confident", "0.5"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 6 and payload["source"] == "decision log (route default)"
    assert min(p["threshold"] for p in payload["grid"]) == pytest.approx(0.8)  # from the production threshold up
    assert any("counted wrong" in note for note in payload["notes"])

    # the database URL resolves as everywhere else: TIERED_DATABASE_URL, else $TIERED_HOME/tiered.db
    monkeypatch.setenv("TIERED_DATABASE_URL", url)
    people = runner.invoke(app, ["backtest", "--from-log", "--route", "default"], env={"COLUMNS": "200"})
    assert people.exit_code == 0, people.output
    assert "From the decision log: 6 graded decisions" in people.output and "Threshold grid" in people.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest"], "Give an outcomes FILE, or --from-log"),
        (["backtest", "x.csv", "--from-log"], "not both"),
        (["backtest", "x.csv", "--route", "default"], "go with --from-log"),
        (["backtest", "--from-log", "--columns", "confidence=c"], "drop --pair-from-gastro and --columns"),
        (["backtest", "--from-log", "--since", "yesterday"], "--since 'yesterday'"),
    ],
)
def test_cli_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'never-opened.db'}"  # each mistake is caught before the database is read
    result = runner.invoke(
        app, [*args, "--database-url", url] if "--from-log" in args else args, env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
