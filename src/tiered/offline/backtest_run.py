"""Running ``tiered backtest`` once its options are read (:mod:`.commands` reads them): load the outcomes
(a file, a gastro model pair, or the decision log), run the backtest, write the files asked for, print.

Imported with the CLI, so it imports nothing heavy at module level: numpy, scipy and matplotlib (the
``tiered[eval]`` extra) are imported when the command runs.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from tiered.errors import TieredError

if TYPE_CHECKING:
    from tiered.offline.backtest import BacktestResult
    from tiered.offline.from_log import LogQuery
    from tiered.offline.outcomes import Outcomes
    from tiered.offline.recommend import Objective

__all__ = ["run_backtest_command", "usage_error"]


def run_backtest_command(
    console: Console,
    source: Path | LogQuery,
    *,
    objective: Objective | None,
    fcr_procedure: str,
    delta: float,
    columns: list[str] | None,
    thresholds: str | None,
    steps: int,
    scale: str | None,
    calibration: Path | None,
    fit_calibration: Path | None,
    model: str | None,
    bins: int,
    json_output: bool,
    report: Path | None,
    plots: Path | None,
    rows: int,
    pair: tuple[str, str] | None,
    cheap_price: str | None,
    deep_price: str | None,
    tokens: str,
) -> None:
    from tiered.offline.backtest import run_backtest

    _check_options(delta, fcr_procedure, calibration=calibration, fit_calibration=fit_calibration)
    notes: list[str] = []
    grid = _floats(thresholds, "--thresholds") if thresholds else None
    if not isinstance(source, Path):
        outcomes, title, grid = _from_log(source, grid, steps, notes, pair=pair, columns=columns)
    else:
        outcomes = _from_file(source, notes, pair=pair, columns=columns, prices=(cheap_price, deep_price, tokens))
        title = source.name
    if pair is not None:
        model = model or pair[0]
    if calibration is not None:
        outcomes = _calibrated(outcomes, calibration)
    result = run_backtest(
        outcomes,
        objective=objective,
        delta=delta,
        thresholds=grid,
        steps=steps,
        scale=_scale(scale),
        bins=bins,
        model=model,
        calibrated=calibration is not None,
        fcr_procedure=fcr_procedure,
    )
    written = _write_files(
        result, fit_calibration=fit_calibration, plots=plots, report=report, title=title, notes=notes
    )
    _print_result(
        console, result, json_output=json_output, rows=rows, notes=notes if not isinstance(source, Path) else None
    )
    for line in written:
        console.print(f"wrote {escape(line)}", highlight=False)


def _calibrated(outcomes: Outcomes, calibration: Path) -> Outcomes:
    """``outcomes`` with the calibration map in the file ``calibration`` applied to their confidence."""
    from tiered.offline.calibration import apply_calibration
    from tiered.offline.calibration_map import load_calibration

    try:
        return apply_calibration(outcomes, load_calibration(calibration))
    except ValueError as exc:
        raise usage_error(f"{calibration}: {exc}.") from exc


def _check_options(delta: float, fcr_procedure: str, *, calibration: Path | None, fit_calibration: Path | None) -> None:
    from tiered.offline.backtest import FCR_PROCEDURES

    if not 0.0 < delta < 1.0:
        raise usage_error(f"--delta must be between 0 and 1 (exclusive), got {delta}.")
    if fcr_procedure not in FCR_PROCEDURES:
        raise usage_error(f"--fcr-procedure takes {' or '.join(FCR_PROCEDURES)}, got {fcr_procedure!r}.")
    if calibration is not None and fit_calibration is not None:
        raise usage_error("Use --calibration or --fit-calibration, not both: fit a map on raw confidences.")


def _from_file(
    source: Path,
    notes: list[str],
    *,
    pair: tuple[str, str] | None,
    columns: list[str] | None,
    prices: tuple[str | None, str | None, str],
) -> Outcomes:
    """The outcomes in ``source``: an outcomes file, or the gastro file's ``pair`` at ``prices`` (cheap, deep,
    tokens per question)."""
    if pair is None:
        from tiered.offline.readers import read_outcomes

        return read_outcomes(source, rename=_column_map(columns))
    from tiered.offline.gastro import ATTRIBUTION

    cheap_price, deep_price, tokens = prices
    outcomes = _gastro_outcomes(
        source, pair, cheap_price=cheap_price, deep_price=deep_price, tokens=tokens, columns=columns
    )
    notes += [ATTRIBUTION, f"Costs assume {tokens} input/output tokens per question at the prices given."]
    return outcomes


def _from_log(
    source: LogQuery,
    grid: list[float] | None,
    steps: int,
    notes: list[str],
    *,
    pair: tuple[str, str] | None,
    columns: list[str] | None,
) -> tuple[Outcomes, str, list[float] | None]:
    """The outcomes of the graded decisions ``source`` asks for, the report's title, and the threshold grid
    (by default from the lowest threshold the route shipped at); what a log cannot tell goes to ``notes``."""
    from tiered.offline.from_log import log_outcomes, threshold_grid

    if pair is not None or columns:
        raise usage_error("--from-log names its own columns: drop --pair-from-gastro and --columns.")
    outcomes, log = log_outcomes(source)
    notes += log.notes()
    if grid is None:
        grid = threshold_grid(log.production_threshold, steps)
        if grid is not None:
            notes.append(f"Thresholds from the lowest the route shipped at ({log.production_threshold:g}) up.")
    return outcomes, f"decision log, route {log.route}", grid


def _write_files(
    result: BacktestResult,
    *,
    fit_calibration: Path | None,
    plots: Path | None,
    report: Path | None,
    title: str,
    notes: list[str],
) -> list[str]:
    """Write the calibration map, the plots and the HTML report asked for; what was written, for the user."""
    from tiered.offline.calibration_map import save_calibration

    written: list[str] = []
    if fit_calibration is not None and result.calibration is not None:
        save_calibration(result.calibration.fitted, fit_calibration)
        written.append(f"calibration map: {fit_calibration}")
    if plots is not None:
        from tiered.offline.plots import frontier_png, reliability_png

        plots.mkdir(parents=True, exist_ok=True)
        (plots / "frontier.png").write_bytes(frontier_png(result))
        written.append(f"frontier: {plots / 'frontier.png'}")
        if result.calibration is not None:
            (plots / "reliability.png").write_bytes(reliability_png(result.calibration))
            written.append(f"reliability diagram: {plots / 'reliability.png'}")
    if report is not None:
        from tiered.offline.report import html_report

        report.write_text(html_report(result, title=f"tiered backtest: {title}", notes=notes), "utf-8")
        written.append(f"report: {report}")
    return written


def _print_result(
    console: Console, result: BacktestResult, *, json_output: bool, rows: int, notes: list[str] | None
) -> None:
    """The result as JSON on stdout, or as tables; ``notes`` (a log's caveats) with either."""
    from tiered.offline.tables import render

    if json_output:
        payload = result.to_json()
        if notes is not None:
            payload["notes"] = notes
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    render(result, console, max_rows=rows)
    for note in notes or ():
        console.print(escape(note), highlight=False)


def _gastro_outcomes(
    file: Path,
    pair: tuple[str, str],
    *,
    cheap_price: str | None,
    deep_price: str | None,
    tokens: str,
    columns: list[str] | None,
) -> Outcomes:
    from tiered.offline.gastro import ListPrice, gastro_pair_columns
    from tiered.offline.outcomes import outcomes_from_columns
    from tiered.offline.readers import read_columns

    if cheap_price is None or deep_price is None:
        raise usage_error("--pair-from-gastro needs --cheap-price IN/OUT and --deep-price IN/OUT (USD per Mtok).")
    if columns:
        raise usage_error("--columns does not apply to --pair-from-gastro, which names the columns itself.")
    tok_in, tok_out = _floats(tokens, "--tokens", sep="/", count=2)
    pair_columns = gastro_pair_columns(
        read_columns(file),
        pair[0],
        pair[1],
        cheap_price=ListPrice.parse(cheap_price),
        deep_price=ListPrice.parse(deep_price),
        input_tokens=tok_in,
        output_tokens=tok_out,
    )
    return outcomes_from_columns(pair_columns, source=f"{file.name} ({pair[0]} -> {pair[1]})")


def _column_map(items: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items or []:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, column = part.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise usage_error(f"--columns takes NAME=COLUMN (e.g. confidence=score), got {part!r}.")
            mapping[name.strip()] = column.strip()
    return mapping


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    lo, hi = _floats(text, "--scale", sep=":", count=2)
    if not hi > lo:
        raise usage_error(f"--scale needs LO < HI, got {text!r}.")
    return (lo, hi)


def _floats(text: str, option: str, *, sep: str = ",", count: int | None = None) -> list[float]:
    try:
        values = [float(part) for part in text.split(sep) if part.strip()]
    except ValueError as exc:
        raise usage_error(f"{option} takes numbers separated by {sep!r}, got {text!r}.") from exc
    if not values or not all(math.isfinite(v) for v in values) or (count is not None and len(values) != count):
        raise usage_error(f"{option} takes {count or 'some'} finite numbers separated by {sep!r}, got {text!r}.")
    return values


def usage_error(message: str) -> TieredError:
    from tiered.errors import ConfigError

    return ConfigError(message)
