"""`tiered backtest` through Typer, as the lead registers it."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from offline_synth import continuous_columns
from typer.testing import CliRunner

from tiered.offline import commands
from tiered.offline.calibration_map import load_calibration
from tiered.offline.gastro import write_columns_csv

app = typer.Typer()
app.command()(commands.backtest)


@app.command()
def version() -> None:
    """A second command, so that `backtest` is a subcommand as in the real CLI."""


runner = CliRunner()


@pytest.fixture
def outcomes_csv(tmp_path: Path) -> Path:
    cols = continuous_columns(3000, np.random.default_rng(0))
    cols["group"] = np.where(np.arange(3000) % 3 == 0, "code", "chat")
    path = tmp_path / "outcomes.csv"
    write_columns_csv(cols, path)
    return path


def test_help_documents_the_command() -> None:
    result = runner.invoke(app, ["backtest", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    for needle in (
        "--max-false-confident",
        "--max-quality-loss",
        "--budget",
        "--delta",
        "--columns",
        "--json",
        "--report",
        "--fit-calibration",
        "--pair-from-gastro",
        "cheap_correct",
        "pip install",
    ):
        assert needle in text


def test_tables_for_people(outcomes_csv: Path) -> None:
    result = runner.invoke(app, ["backtest", str(outcomes_csv), "--max-false-confident", "0.1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for needle in (
        "Reference points",
        "all-cheap",
        "all-deep",
        "oracle",
        "seed 0.8",
        "recommended",
        "Threshold grid",
        "Calibration of tier 0",
        "AUROC",
        "Slices",
        "code",
        "chat",
    ):
        assert needle in result.output


def test_json_for_machines(outcomes_csv: Path) -> None:
    result = runner.invoke(app, ["backtest", str(outcomes_csv), "--max-false-confident", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["objective"] == {
        "name": "max_false_confident",
        "target": 0.1,
        "delta": 0.05,
        "met": True,
        "procedure": "fixed-sequence",
    }
    assert doc["bound"]["value"] <= 0.1
    assert 0 < doc["savings_vs_deep"] < 1
    assert doc["n"] == 3000


def test_report_plots_and_calibration_file(outcomes_csv: Path, tmp_path: Path) -> None:
    report, plots, cal = tmp_path / "r.html", tmp_path / "plots", tmp_path / "cal.json"
    result = runner.invoke(
        app,
        [
            "backtest",
            str(outcomes_csv),
            "--max-quality-loss",
            "0.02",
            "--report",
            str(report),
            "--plots",
            str(plots),
            "--fit-calibration",
            str(cal),
            "--model",
            "claude-haiku-4-5",
        ],
    )
    assert result.exit_code == 0, result.output
    html = report.read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 2
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)  # self-contained
    assert (plots / "frontier.png").read_bytes().startswith(b"\x89PNG")
    assert (plots / "reliability.png").read_bytes().startswith(b"\x89PNG")
    fitted = load_calibration(cal)
    assert fitted.model == "claude-haiku-4-5" and fitted.n == 3000

    # A route-style replay through the fitted map: thresholds now read as probabilities.
    again = runner.invoke(app, ["backtest", str(outcomes_csv), "--calibration", str(cal), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["calibrated"] is True


def test_column_map_and_explicit_grid(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("score,cheap_correct,deep_correct,cheap_cost_usd,deep_cost_usd\n0.9,1,1,1,10\n0.3,0,1,1,10\n")
    result = runner.invoke(
        app, ["backtest", str(path), "--columns", "confidence=score", "--thresholds", "0.5,0.95", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [row["threshold"] for row in doc["grid"]] == [0.95, 0.5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-false-confident", "0.1", "--budget", "1"], "Give one objective"),
        (["--delta", "0"], "--delta must be between 0 and 1"),
        (["--columns", "confidence"], "NAME=COLUMN"),
        (["--scale", "1:0"], "LO < HI"),
        (["--thresholds", "a,b"], "--thresholds takes"),
        (["--pair-from-gastro", "a", "b"], "needs --cheap-price"),
    ],
)
def test_usage_errors_exit_2_with_a_message(outcomes_csv: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", str(outcomes_csv), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in re.sub(r"\s+", " ", result.output)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["backtest", str(tmp_path / "absent.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Cannot read" in result.output


def test_missing_eval_extra_gives_the_install_command(outcomes_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    result = runner.invoke(app, ["backtest", str(outcomes_csv)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "pip install 'tiered[eval]'" in result.output
