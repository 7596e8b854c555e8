"""The ``tiered backtest`` command, and ``tiered eval`` re-exported from :mod:`.eval_command` (both
registered in :mod:`tiered.cli`).

This module is imported with the CLI, so it imports nothing heavy: numpy, scipy and matplotlib (the
``tiered[eval]`` extra) are checked and imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tiered.errors import TieredError
from tiered.offline._extra import require_eval
from tiered.offline.backtest_run import run_backtest_command, usage_error
from tiered.offline.eval_command import evaluate

if TYPE_CHECKING:
    from tiered.offline.from_log import LogQuery
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
    replay_rule: Annotated[
        bool,
        typer.Option(
            "--replay-rule",
            help="With --from-log: replay the expected-cost rule (tiered.economics) on the route's triaged "
            "decisions, graded or not: which it would not have triaged, and the cost difference.",
        ),
    ] = False,
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
    if replay_rule:
        _replay_rule(console, _source(file, from_log=from_log, route=route, since=since, database_url=database_url))
        return
    try:
        require_eval()
        objective = _objective(max_false_confident, max_quality_loss, budget)
        run_backtest_command(
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


def _replay_rule(console: Console, source: Path | LogQuery) -> None:
    """``--replay-rule``: the expected-cost rule on the log (see :mod:`tiered.offline.rule_replay`)."""
    from tiered.config import load_settings
    from tiered.offline.rule_replay import print_replay, replay_log

    try:
        if isinstance(source, Path):
            raise usage_error("--replay-rule goes with --from-log.")
        route, result, read = replay_log(source, load_settings())
    except TieredError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False)
        raise typer.Exit(code=2) from exc
    print_replay(console, route, result, read)


def _source(
    file: Path | None, *, from_log: bool, route: str | None, since: str | None, database_url: str | None
) -> Path | LogQuery:
    if not from_log:
        if file is None:
            raise usage_error("Give an outcomes FILE, or --from-log to read graded decisions from the decision store.")
        if route is not None or since is not None or database_url is not None:
            raise usage_error("--route, --since and --database-url go with --from-log.")
        return file
    if file is not None:
        raise usage_error("Give an outcomes FILE or --from-log, not both.")
    from datetime import UTC, datetime

    from tiered.offline.from_log import LogQuery
    from tiered.store.commands import parse_since

    return LogQuery(database_url=database_url, route=route, since=parse_since(since, datetime.now(UTC)))


def _objective(fcr: float | None, loss: float | None, budget: float | None) -> Objective | None:
    from tiered.offline.recommend import Budget, MaxFalseConfident, MaxQualityLoss

    given = [v is not None for v in (fcr, loss, budget)]
    if sum(given) > 1:
        raise usage_error("Give one objective: --max-false-confident, --max-quality-loss or --budget.")
    if fcr is not None:
        if not 0.0 <= fcr < 1.0:
            raise usage_error(f"--max-false-confident must be in [0, 1), got {fcr}.")
        return MaxFalseConfident(fcr)
    if loss is not None:
        if not 0.0 <= loss < 1.0:
            raise usage_error(f"--max-quality-loss must be in [0, 1), got {loss}.")
        return MaxQualityLoss(loss)
    if budget is not None:
        if budget < 0:
            raise usage_error(f"--budget must be >= 0 USD per call, got {budget}.")
        return Budget(budget)
    return None
