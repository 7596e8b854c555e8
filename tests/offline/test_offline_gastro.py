"""The verbalized-confidence gastroenterology data (shared/data), when it is there."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypedDict

import pytest
import typer
from typer.testing import CliRunner

from tiered.offline import commands
from tiered.offline.backtest import run_backtest
from tiered.offline.gastro import ListPrice, gastro_models, gastro_pair_columns
from tiered.offline.outcomes import BacktestInputError, outcomes_from_columns
from tiered.offline.readers import read_columns
from tiered.offline.recommend import MaxFalseConfident, MaxQualityLoss

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "verbalized-confidence-gastro"
CSV = DATA / "merged_confidence_correctness_new.csv"
CHEAP, DEEP = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-05-13"


class Prices(TypedDict):
    cheap_price: ListPrice
    deep_price: ListPrice


PRICES: Prices = {"cheap_price": ListPrice(0.15, 0.60), "deep_price": ListPrice(5.0, 15.0)}

pytestmark = pytest.mark.skipif(not CSV.is_file(), reason=f"shared gastro data not found at {CSV}")


@pytest.fixture(scope="module")
def columns() -> dict[str, list[object]]:
    return read_columns(CSV)


def test_pair_conversion(columns: dict[str, list[object]]) -> None:
    models = gastro_models(columns)
    assert CHEAP in models and DEEP in models and len(models) > 40
    pair = gastro_pair_columns(columns, CHEAP, DEEP, input_tokens=300, output_tokens=150, **PRICES)
    outcomes = outcomes_from_columns(pair, source="gastro")
    assert outcomes.n == 300 and outcomes.form == "two-tier"
    assert outcomes.cost[0, 0] == pytest.approx((300 * 0.15 + 150 * 0.60) / 1e6)
    assert outcomes.cost[0, 1] == pytest.approx((300 * 5 + 150 * 15) / 1e6)
    assert (~outcomes.has_confidence).sum() == sum(1 for v in columns[f"{CHEAP}_confidence"] if v == "")
    with pytest.raises(BacktestInputError, match="No model 'nope'"):
        gastro_pair_columns(columns, "nope", DEEP, **PRICES)


def test_recommendation_is_sensible(columns: dict[str, list[object]]) -> None:
    pair = gastro_pair_columns(columns, CHEAP, DEEP, **PRICES)
    outcomes = outcomes_from_columns(pair, source="gastro")
    result = run_backtest(outcomes, objective=MaxQualityLoss(0.05))
    assert result.scale == (0.0, 10.0)
    # The seed's 0.8 (8 of 10) ships almost everything and loses well over 10 points against the deep model.
    assert result.seed.escalation_rate < 0.1 and result.seed.quality_vs_deep < -0.10
    rec = result.recommendation
    assert rec is not None and rec.met
    # Only the top stated confidence (10) can ship within the bound; the loss is certified below 5 points.
    assert rec.point.threshold == 10.0
    assert rec.bound is not None and rec.bound.value <= 0.05
    assert rec.point.savings_vs_deep is not None and rec.point.savings_vs_deep > 0
    # Stated confidence is badly calibrated and weakly discriminative here.
    assert result.calibration is not None
    assert result.calibration.ece > 0.2 and result.calibration.auroc is not None
    assert result.calibration.auroc < 0.65
    # No threshold keeps wrong-among-shipped at 20%: escalate everything.
    strict = run_backtest(outcomes, objective=MaxFalseConfident(0.2)).recommendation
    assert strict is not None and not strict.met


def test_cli_report_renders(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(commands.backtest)
    app.command("noop")(lambda: None)
    report = tmp_path / "gastro.html"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            str(CSV),
            "--pair-from-gastro",
            CHEAP,
            DEEP,
            "--cheap-price",
            "0.15/0.60",
            "--deep-price",
            "5/15",
            "--max-quality-loss",
            "0.05",
            "--report",
            str(report),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["threshold"] == 10.0 and doc["n"] == 300
    html = report.read_text()
    assert len(re.findall(r"data:image/png;base64,", html)) == 2
    assert "arXiv:2503.18562" in html  # the data's attribution travels with the report
