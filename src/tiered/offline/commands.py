"""The ``tiered backtest`` command, and ``tiered eval`` re-exported from :mod:`.eval_command` (both
registered in :mod:`tiered.cli`).

This module is imported with the CLI, so it imports nothing heavy: numpy, scipy and matplotlib (the
``tiered[eval]`` extra) are checked and imported when the command runs.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tiered.errors import TieredError
from tiered.offline._extra import require_eval
from tiered.offline.eval_command import evaluate

if TYPE_CHECKING:
    from tiered.offline.backtest import BacktestResult
    from tiered.offline.from_log import LogQuery
    from tiered.offline.outcomes import Outcomes
    from tiered.offline.recommend import Objective

__all__ = ["backtest", "evaluate"]


def backtest(
    file: Annotated[
        Path | None, typer.Argument(help="Recorded per-query outcomes: a .csv or .jsonl file (or .gz).")
    ] = None,
    *,
    from_log: Annotated[
        bool,
        typer.Option(
            "--from-log",
            help="Backtest graded decisions from the decision store instead of FILE (see docs/backtest.md for "
            "what a log can and cannot tell).",
        ),
    ] = False,
    route: Annotated[
        str | None, typer.Option("--route", help="With --from-log: the route (needed when several are graded).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="With --from-log: decisions since a duration back (7d, 24h), a date or ISO time."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="With --from-log: SQLAlchemy URL of the decision store [default: $TIERED_DATABASE_URL, else "
            "$TIERED_HOME/tiered.db]",
            show_default=False,
        ),
    ] = None,
    max_false_confident: Annotated[
        float | None,
        typer.Option(
            "--max-false-confident",
            metavar="A",
            help="Recommend the lowest threshold whose false-confident rate (wrong among shipped) is at most "
            "A, guaranteed with probability >= 1 - delta.",
        ),
    ] = None,
    fcr_procedure: Annotated[
        str,
        typer.Option(
            "--fcr-procedure",
            metavar="NAME",
            help="How --max-false-confident is tested: fixed-sequence (one walk down the grid, stopping at the "
            "first failure) or fallback (a failed test near the top does not end the walk; the walk resumes "
            "where half the queries ship, with 0.1 of delta kept for it). Same guarantee; see docs/backtest.md.",
        ),
    ] = "fixed-sequence",
    max_quality_loss: Annotated[
        float | None,
        typer.Option(
            "--max-quality-loss",
            metavar="E",
            help="Recommend the lowest threshold whose accuracy is at most E (e.g. 0.02) below the final "
            "tier's, guaranteed with probability >= 1 - delta.",
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            metavar="C",
            help="Recommend the threshold with the best accuracy at a cost per call of at most C USD "
            "(measured on the data; no guarantee).",
        ),
    ] = None,
    delta: Annotated[
        float, typer.Option("--delta", metavar="D", help="Allowed probability that the guarantee fails.")
    ] = 0.05,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            metavar="NAME=COLUMN",
            help="Map an expected column to the file's name for it, e.g. confidence=score (repeat, or "
            "separate with commas).",
        ),
    ] = None,
    thresholds: Annotated[
        str | None,
        typer.Option(
            "--thresholds",
            metavar="T1,T2,...",
            help="The threshold grid, fixed in advance (default: --steps points over the score's scale).",
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Points in the default threshold grid.")] = 101,
    scale: Annotated[
        str | None,
        typer.Option(
            "--scale",
            metavar="LO:HI",
            help="The confidence scale (default: 0:1, 0:10 or 0:100, whichever holds every score).",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            metavar="FILE",
            help="Apply a fitted calibration map to the confidence first (fit it on other data).",
        ),
    ] = None,
    fit_calibration: Annotated[
        Path | None,
        typer.Option(
            "--fit-calibration",
            metavar="OUT.json",
            help="Fit an isotonic calibration map of tier 0's confidence and write it for a route's "
            "`calibration` setting.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The triage model's name, recorded in --fit-calibration.")
    ] = None,
    bins: Annotated[int, typer.Option("--bins", min=2, help="Bins of the reliability diagram and ECE.")] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="OUT.html", help="Write a self-contained HTML report with the plots."),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option("--plots", metavar="DIR", help="Write frontier.png and reliability.png into DIR."),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=2, help="At most this many grid rows in the table.")] = 25,
    pair_from_gastro: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--pair-from-gastro",
            metavar="CHEAP DEEP",
            help="FILE is the gastro merged_confidence_correctness_new.csv: backtest the CHEAP -> DEEP model "
            "pair (needs --cheap-price and --deep-price).",
        ),
    ] = None,
    cheap_price: Annotated[
        str | None,
        typer.Option("--cheap-price", metavar="IN/OUT", help="Cheap model list price, USD per million tokens."),
    ] = None,
    deep_price: Annotated[
        str | None,
        typer.Option("--deep-price", metavar="IN/OUT", help="Deep model list price, USD per million tokens."),
    ] = None,
    tokens: Annotated[
        str,
        typer.Option("--tokens", metavar="IN/OUT", help="Assumed tokens per question for --pair-from-gastro."),
    ] = "300/150",
) -> None:
    """Backtest the cascade on recorded outcomes and recommend a threshold.

    FILE has one row per query. Two-tier form: id, confidence, cheap_correct, deep_correct, cheap_cost_usd,
    deep_cost_usd, and optionally triage_cost_usd (default cheap_cost_usd) and group (reported per slice).
    n-tier form: confidence_<i>, correct_<i>, cost_usd_<i> for tiers i = 0..k. Confidence is any score where
    higher means more likely right; a blank confidence never ships. `tiered eval` writes such a file from a
    labelled dataset; --from-log builds the rows from graded decisions in the decision store instead.

    A query ships when its confidence is at least the threshold (one threshold shared by every non-final
    tier). The table shows, over a grid of thresholds, the escalation rate, accuracy, false-confident rate,
    cost per call, savings and quality against the final tier, with the all-cheap, all-deep, oracle and
    seed (0.8) reference points, and the calibration of the confidence (AUROC, ECE, reliability).

    Examples:

    \b
      tiered backtest outcomes.csv --max-false-confident 0.05 \\
        --report report.html

    \b
      tiered backtest merged_confidence_correctness_new.csv \\
        --pair-from-gastro gpt-4o-mini-2024-07-18 gpt-4o-2024-05-13 \\
        --cheap-price 0.15/0.60 --deep-price 5/15 --max-quality-loss 0.03

    Needs the eval extra: pip install 'tiered[eval]'.
    """
    console = Console(stderr=json_output)
    try:
        require_eval()
        objective = _objective(max_false_confident, max_quality_loss, budget)
        _run(
            console,
            _source(file, from_log=from_log, route=route, since=since, database_url=database_url),
            objective=objective,
            fcr_procedure=fcr_procedure,
            delta=delta,
            columns=columns,
            thresholds=thresholds,
            steps=steps,
            scale=scale,
            calibration=calibration,
            fit_calibration=fit_calibration,
            model=model,
            bins=bins,
            json_output=json_output,
            report=report,
            plots=plots,
            rows=rows,
            pair=pair_from_gastro,
            cheap_price=cheap_price,
            deep_price=deep_price,
            tokens=tokens,
        )
    except TieredError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False)
        raise typer.Exit(code=2) from exc


def _run(
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
    from tiered.offline.backtest import FCR_PROCEDURES, run_backtest
    from tiered.offline.calibration import apply_calibration
    from tiered.offline.calibration_map import load_calibration

    if not 0.0 < delta < 1.0:
        raise _usage(f"--delta must be between 0 and 1 (exclusive), got {delta}.")
    if fcr_procedure not in FCR_PROCEDURES:
        raise _usage(f"--fcr-procedure takes {' or '.join(FCR_PROCEDURES)}, got {fcr_procedure!r}.")
    if calibration is not None and fit_calibration is not None:
        raise _usage("Use --calibration or --fit-calibration, not both: fit a map on raw confidences.")
    notes: list[str] = []
    grid = _floats(thresholds, "--thresholds") if thresholds else None
    if not isinstance(source, Path):
        outcomes, title, grid = _from_log(source, grid, steps, notes, pair=pair, columns=columns)
    elif pair is not None:
        from tiered.offline.gastro import ATTRIBUTION

        outcomes = _gastro_outcomes(
            source, pair, cheap_price=cheap_price, deep_price=deep_price, tokens=tokens, columns=columns
        )
        notes += [ATTRIBUTION, f"Costs assume {tokens} input/output tokens per question at the prices given."]
        model = model or pair[0]
        title = source.name
    else:
        from tiered.offline.readers import read_outcomes

        outcomes = read_outcomes(source, rename=_column_map(columns))
        title = source.name
    if calibration is not None:
        try:
            outcomes = apply_calibration(outcomes, load_calibration(calibration))
        except ValueError as exc:
            raise _usage(f"{calibration}: {exc}.") from exc
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
        raise _usage("--from-log names its own columns: drop --pair-from-gastro and --columns.")
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


def _source(
    file: Path | None, *, from_log: bool, route: str | None, since: str | None, database_url: str | None
) -> Path | LogQuery:
    if not from_log:
        if file is None:
            raise _usage("Give an outcomes FILE, or --from-log to read graded decisions from the decision store.")
        if route is not None or since is not None or database_url is not None:
            raise _usage("--route, --since and --database-url go with --from-log.")
        return file
    if file is not None:
        raise _usage("Give an outcomes FILE or --from-log, not both.")
    from datetime import UTC, datetime

    from tiered.offline.from_log import LogQuery
    from tiered.store.commands import parse_since

    return LogQuery(database_url=database_url, route=route, since=parse_since(since, datetime.now(UTC)))


def _objective(fcr: float | None, loss: float | None, budget: float | None) -> Objective | None:
    from tiered.offline.recommend import Budget, MaxFalseConfident, MaxQualityLoss

    given = [v is not None for v in (fcr, loss, budget)]
    if sum(given) > 1:
        raise _usage("Give one objective: --max-false-confident, --max-quality-loss or --budget.")
    if fcr is not None:
        if not 0.0 <= fcr < 1.0:
            raise _usage(f"--max-false-confident must be in [0, 1), got {fcr}.")
        return MaxFalseConfident(fcr)
    if loss is not None:
        if not 0.0 <= loss < 1.0:
            raise _usage(f"--max-quality-loss must be in [0, 1), got {loss}.")
        return MaxQualityLoss(loss)
    if budget is not None:
        if budget < 0:
            raise _usage(f"--budget must be >= 0 USD per call, got {budget}.")
        return Budget(budget)
    return None


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
        raise _usage("--pair-from-gastro needs --cheap-price IN/OUT and --deep-price IN/OUT (USD per Mtok).")
    if columns:
        raise _usage("--columns does not apply to --pair-from-gastro, which names the columns itself.")
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
                raise _usage(f"--columns takes NAME=COLUMN (e.g. confidence=score), got {part!r}.")
            mapping[name.strip()] = column.strip()
    return mapping


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    lo, hi = _floats(text, "--scale", sep=":", count=2)
    if not hi > lo:
        raise _usage(f"--scale needs LO < HI, got {text!r}.")
    return (lo, hi)


def _floats(text: str, option: str, *, sep: str = ",", count: int | None = None) -> list[float]:
    try:
        values = [float(part) for part in text.split(sep) if part.strip()]
    except ValueError as exc:
        raise _usage(f"{option} takes numbers separated by {sep!r}, got {text!r}.") from exc
    if not values or not all(math.isfinite(v) for v in values) or (count is not None and len(values) != count):
        raise _usage(f"{option} takes {count or 'some'} finite numbers separated by {sep!r}, got {text!r}.")
    return values


def _usage(message: str) -> TieredError:
    from tiered.errors import ConfigError

    return ConfigError(message)
