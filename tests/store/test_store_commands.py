from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from tests.store._store_helpers import make_decision
from typer.testing import CliRunner

from tiered.errors import ConfigError
from tiered.store import commands
from tiered.store.engine import make_engine
from tiered.store.paths import default_database_url, tiered_home
from tiered.store.writer import DecisionWriter, WriterConfig

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def app() -> typer.Typer:
    root = typer.Typer()
    root.command("report")(commands.report)
    root.command("export")(commands.export)
    db = typer.Typer()
    db.command("upgrade")(commands.db_upgrade)
    root.add_typer(db, name="db")
    return root


def test_default_database_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_database_url() == f"sqlite:///{tiered_home() / 'tiered.db'}"
    monkeypatch.setenv("TIERED_HOME", str(tmp_path / "elsewhere"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'elsewhere' / 'tiered.db'}"
    monkeypatch.setenv("TIERED_DATABASE_URL", "postgresql://u@h/db")
    assert default_database_url() == "postgresql://u@h/db"
    monkeypatch.delenv("TIERED_HOME")
    monkeypatch.delenv("TIERED_DATABASE_URL")
    assert "tiered" in str(tiered_home())  # the per-user data directory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T10:00:00+02:00", datetime(2026, 5, 1, 8, tzinfo=UTC)),
        ("all", None),
        (None, None),
    ],
)
def test_parse_since(text: str | None, expected: datetime | None) -> None:
    assert commands.parse_since(text, NOW) == expected


def test_parse_since_explains_bad_input() -> None:
    with pytest.raises(ConfigError, match="30m, 24h"):
        commands.parse_since("yesterday", NOW)


def test_db_upgrade_report_and_export_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app(), ["report"])
    assert result.exit_code == 2
    assert "tiered db upgrade" in result.stderr

    result = runner.invoke(app(), ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "(newest)" in result.stdout
    url = default_database_url()
    engine = make_engine(url)
    with DecisionWriter(engine, WriterConfig(spool_dir=tmp_path / "spool")) as writer:
        writer.submit(make_decision("one", "escalated", cost=0.25, counterfactual=0.2))
        writer.submit(make_decision("two", route="other", cost=0.01, counterfactual=0.2))
        writer.submit(make_decision("old", created_at=datetime.now(UTC) - timedelta(days=3)))
    engine.dispose()

    result = runner.invoke(app(), ["report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 2
    assert data["escalated_calls"] == 1
    assert data["cost"]["actual_usd"] == pytest.approx(0.26)

    result = runner.invoke(app(), ["report", "--json", "--since", "all", "--route", "default"])
    assert json.loads(result.stdout)["calls"] == 2

    result = runner.invoke(app(), ["report", "--since", "7d"])
    assert result.exit_code == 0, result.output
    assert "escalation rate" in result.stdout and "other" in result.stdout

    target = tmp_path / "out.csv"
    result = runner.invoke(app(), ["export", "--format", "csv", "-o", str(target), "--since", "24h"])
    assert result.exit_code == 0, result.output
    assert "exported 2 decision(s)" in result.stderr
    assert target.read_text().count("\n") == 3

    result = runner.invoke(app(), ["export", "--database-url", url])
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["old", "one", "two"]

    result = runner.invoke(app(), ["report", "--since", "soon"])
    assert result.exit_code == 2
    assert "--since 'soon'" in result.stderr


def test_commands_refuse_a_bad_url_with_advice() -> None:
    result = CliRunner().invoke(app(), ["report", "--database-url", "nosuchdb://x"])
    assert result.exit_code == 2
    assert "invalid database URL" in result.stderr
