"""Tables fit the terminal at 80 and 120 columns and never cut what a user must copy (issue #20, item 2)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tiered.cli import app
from tiered.offline.gastro import write_columns_csv

sys.path.insert(0, str(Path(__file__).parents[1] / "offline"))
from offline_synth import continuous_columns

runner = CliRunner()
WIDTHS = [80, 120]


def _fits(output: str, width: int) -> None:
    assert "…" not in output, output
    assert max(len(line) for line in output.splitlines()) <= width, output


@pytest.mark.parametrize("width", WIDTHS)
def test_keys_list_shows_whole_ids_that_revoke_takes(width: int) -> None:
    env = {"COLUMNS": str(width)}
    for name in ("a rather long application name", "ops"):
        assert runner.invoke(app, ["keys", "create", name, "--admin"], env=env).exit_code == 0
    listed = runner.invoke(app, ["keys", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    _fits(listed.output, width)
    ids = re.findall(r"\bkey_[0-9a-f]{16}\b", listed.output)
    assert len(ids) == 2, listed.output
    revoked = runner.invoke(app, ["keys", "revoke", ids[0]], env=env)
    assert revoked.exit_code == 0, revoked.output
    with_revoked = runner.invoke(app, ["keys", "list", "--revoked"], env=env)
    _fits(with_revoked.output, width)
    assert set(re.findall(r"\bkey_[0-9a-f]{16}\b", with_revoked.output)) == set(ids)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cols = continuous_columns(3000, np.random.default_rng(0))
    cols["group"] = np.where(np.arange(3000) % 3 == 0, "code", "chat")
    path = tmp_path_factory.mktemp("backtest") / "outcomes.csv"
    write_columns_csv(cols, path)
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_backtest_tables_fit_and_count_per_row(outcomes: Path, width: int) -> None:
    result = runner.invoke(
        app, ["backtest", str(outcomes), "--max-false-confident", "0.1"], env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    _fits(result.output, width)
    for label in ("all-cheap", "all-deep", "oracle", "seed 0.8", "recommended", "threshold", "chat", "code"):
        assert label in result.output
    grid = result.output.split("Threshold grid")[1].split("Calibration")[0]
    shipped = [line.split()[1] for line in grid.splitlines() if re.match(r"\s*(0|1|0\.\d+)\b", line)]
    assert len(set(shipped)) > 3, grid  # a count per row, not the total on every row
    assert re.search(r"\$0\.\d{4}\b", result.output) and "$-" not in result.output
