"""The ``tiered eval`` command (registered in :mod:`tiered.cli`). Imports only typer and rich at the top."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tiered.errors import ConfigError, TieredError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tiered.config import Settings
    from tiered.offline.eval_cache import EvalCache
    from tiered.offline.eval_dataset import EvalItem
    from tiered.offline.eval_run import EvalConfig, EvalRun
    from tiered.offline.eval_signals import SignalRow

__all__ = ["evaluate"]


def evaluate(
    dataset: Annotated[Path, typer.Argument(help="The labelled dataset: one JSON object per line.")],
    *,
    route: Annotated[str, typer.Option("--route", "-r", help="The route to evaluate.")] = "default",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Outcomes file, .csv or .jsonl (default: beside the dataset, <dataset>.<route>.outcomes.csv).",
        ),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="Resumable cache of replies (default: beside the output, <output>.cache.jsonl)."),
    ] = None,
    batch: Annotated[
        bool,
        typer.Option("--batch", help="Use the Message Batches API (half price, results within 24 hours)."),
    ] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Items in flight at once (live).")] = 8,
    grader: Annotated[
        str, typer.Option("--grader", help="Grader of lines that name none: exact, numeric, multiple_choice, judge.")
    ] = "exact",
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="The judge's model (default: the route's final tier).")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="max_tokens of lines that set none.")] = 1024,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    poll_interval: Annotated[
        float,
        typer.Option("--poll-interval", min=0.0, help="First wait between batch polls, in seconds (grows to 5 min)."),
    ] = 10.0,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            help="Also score the first tier's answers with this confidence strategy (consistency, verify, learned; "
            "repeatable) and report it beside self_report.",
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", min=2, help="consistency: answers per item, draft included.")
    ] = 5,
    temperature: Annotated[
        float, typer.Option("--temperature", min=0.0, max=1.0, help="consistency: the extra samples' temperature.")
    ] = 1.0,
    confidence_model: Annotated[
        Path | None, typer.Option("--confidence-model", help="learned: the model file (tiered confidence train --out).")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option("--target", help="Strategies: false-confident target [default: the route's max_false_confident]."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")] = None,
) -> None:
    """Run a route's cascade over a labelled dataset and write its outcomes for `tiered backtest`.

    Each line has a prompt (or a Messages "messages" list, and optionally "system"), a "reference" answer and
    a "grader": exact, numeric (with "tolerance"), multiple_choice (option letters) or judge (a model decides,
    with a structured verdict). Optional: "id", "group", "choices", "max_tokens".

    Every item is sent to every tier (each non-final tier with the cascade's triage request, the final tier
    with the request as the cascade replays it), so the output holds what any threshold would have done:
    this costs about the cheap tier plus the final tier per item. Replies are cached as they arrive; rerun
    the same command to resume an interrupted run without paying twice. --batch sends a triage batch, then a
    final-tier batch (and a grading batch for judge items) at the batch discount.

    Example:

    \b
      tiered eval qa.jsonl --route default -o qa.csv
      tiered backtest qa.csv --max-false-confident 0.05
    """
    console = Console(stderr=True)
    try:
        run, out_path, cache_path, rows = _evaluate(
            console,
            dataset,
            route=route,
            output=output,
            cache=cache,
            batch=batch,
            concurrency=concurrency,
            grader=grader,
            judge_model=judge_model,
            max_tokens=max_tokens,
            limit=limit,
            poll_interval=poll_interval,
            config=config,
            signals=(tuple(strategy or ()), samples, temperature, confidence_model, target),
        )
    except KeyboardInterrupt:
        console.print("interrupted: finished calls are cached; rerun the same command to resume.", highlight=False)
        raise typer.Exit(code=130) from None
    except TieredError as exc:
        console.print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False)
        raise typer.Exit(code=2 if isinstance(exc, ConfigError) else 1) from exc
    _report(console, run, out_path, cache_path, json_output=json_output, signals=rows)
    if run.failures:
        raise typer.Exit(code=1)


def _evaluate(
    console: Console,
    dataset: Path,
    *,
    route: str,
    output: Path | None,
    cache: Path | None,
    batch: bool,
    concurrency: int,
    grader: str,
    judge_model: str | None,
    max_tokens: int,
    limit: int | None,
    poll_interval: float,
    config: Path | None,
    signals: tuple[tuple[str, ...], int, float, Path | None, float | None] = ((), 5, 1.0, None, None),
) -> tuple[EvalRun, Path, Path, list[SignalRow]]:
    import asyncio

    from tiered.config import TierSettings, load_settings
    from tiered.offline.eval_cache import EvalCache
    from tiered.offline.eval_dataset import GRADERS, load_dataset
    from tiered.offline.eval_output import write_outcomes
    from tiered.offline.eval_run import EvalConfig, run_eval

    if grader not in GRADERS:
        raise ConfigError(f"--grader must be one of {', '.join(GRADERS)}, got {grader!r}")
    items = load_dataset(dataset, default_grader=grader)  # type: ignore[arg-type]  # checked just above
    if limit is not None:
        items = items[:limit]
    settings = load_settings(config)
    route_settings = settings.route(route)
    # beside the data set, not in the current directory (often a clone's working tree)
    out_path = output or dataset.with_name(f"{dataset.stem}.{route}.outcomes.csv")
    cache_path = cache or out_path.with_name(out_path.stem + ".cache.jsonl")
    eval_config = EvalConfig(
        route_name=route,
        route=route_settings,
        judge=TierSettings(model=judge_model or route_settings.tiers[-1].model),
        max_tokens=max_tokens,
        concurrency=concurrency,
        batch=batch,
        poll_initial_s=poll_interval,
    )
    with EvalCache(cache_path) as store:
        if store.loaded:
            console.print(f"resuming: {store.loaded:,} cached replies in {escape(str(cache_path))}", highlight=False)
        with _RichProgress(console) as progress:
            run = asyncio.run(run_eval(items, settings, eval_config, store, progress=progress))
        rows = asyncio.run(_signals(items, settings, eval_config, run, store, signals)) if signals[0] else []
    write_outcomes(run.outcomes, run.tiers, out_path)
    return run, out_path, cache_path, rows


async def _signals(
    items: list[EvalItem],
    settings: Settings,
    eval_config: EvalConfig,
    run: EvalRun,
    store: EvalCache,
    signals: tuple[tuple[str, ...], int, float, Path | None, float | None],
) -> list[SignalRow]:
    from tiered.offline._extra import require_eval
    from tiered.offline.eval_prices import EvalPricer
    from tiered.offline.eval_signals import SignalOptions, score_signals
    from tiered.pricing import default_price_book
    from tiered.upstreams import Upstreams

    require_eval()
    strategies, samples, temperature, model, target = signals
    route = eval_config.route
    goal = route.max_false_confident if target is None else target
    options = SignalOptions(strategies, samples, temperature, model, goal, route.confidence_level)
    links = Upstreams(settings)
    try:
        pricer = EvalPricer(default_price_book())
        return await score_signals(items, eval_config, run.outcomes, store, links, options, pricer)
    finally:
        await links.aclose()


class _RichProgress:
    """A Rich progress bar per phase (``items`` live; ``triage``, ``final``, ``grading`` in batch mode)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress: Progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, phase: str, total: int) -> None:
        self._tasks[phase] = self._progress.add_task(phase, total=total, note="")

    def update(self, phase: str, completed: int, note: str = "") -> None:
        self._progress.update(self._tasks[phase], completed=completed, note=escape(note))

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _report(
    console: Console, run: EvalRun, out_path: Path, cache_path: Path, *, json_output: bool, signals: list[SignalRow]
) -> None:
    from dataclasses import asdict

    from tiered.offline.eval_output import run_summary

    summary: dict[str, Any] = run_summary(run)
    if signals:
        summary["signals"] = [asdict(row) for row in signals]
    summary["output"] = str(out_path)
    summary["cache"] = str(cache_path)
    summary["failures"] = [{"id": f.id, "message": f.message} for f in run.failures]
    if json_output:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    form = "two-tier" if run.tiers == 2 else "n-tier"
    say = console.print
    say(f"evaluated {summary['items']:,} item(s) on route {escape(run.route)} ({run.tiers} tiers)", highlight=False)
    rates = f", batched calls at half price; ${run.standard_usd:.6f} at standard rates" if run.batch else ""
    say(
        f"the rows' tier calls cost ${run.paid_usd:.6f}{rates}; judging ${run.grading_usd:.6f}; "
        f"{run.calls_made:,} call(s) sent by this run",
        highlight=False,
    )
    cascade = summary["cascade"]
    if cascade is not None:
        savings = cascade["savings_vs_deep"]
        say(
            f"the route at its own threshold: escalation {cascade['escalation_rate']:.1%}, accuracy "
            f"{cascade['accuracy']:.1%} (final tier alone {cascade['final_tier_accuracy']:.1%}), cost per call "
            f"${cascade['cost_per_call_usd']:.6f}" + (f", savings {savings:.1%}" if savings is not None else ""),
            highlight=False,
        )
    for failure in run.failures[:10]:
        say(f"[yellow]no row for {escape(failure.id)}:[/yellow] {escape(failure.message)}", highlight=False)
    if run.failures:
        more = f" ({len(run.failures) - 10} more)" if len(run.failures) > 10 else ""
        say(
            f"{len(run.failures):,} item(s) incomplete{more}; rerun the same command to retry them (finished calls "
            "are cached).",
            highlight=False,
        )
    for row in signals:
        say(escape(_signal_line(row)), highlight=False)
    say(f"wrote {escape(str(out_path))} ({form} backtest form); cache {escape(str(cache_path))}", highlight=False)
    say(f"next: tiered backtest {escape(str(out_path))} --max-false-confident 0.05", highlight=False)


def _signal_line(row: SignalRow) -> str:
    auroc = "n/a" if row.auroc is None else f"{row.auroc:.3f} [{row.auroc_low:.3f}, {row.auroc_high:.3f}]"
    at = "no threshold meets the target" if row.threshold is None else f"threshold {row.threshold:.3f}"
    savings = "n/a" if row.savings is None else f"{row.savings:.1%}"
    return (
        f"  {row.strategy:<12} AUROC {auroc}  ECE {row.ece:.3f}  at target: {at}, ships {row.shipped:.1%}, "
        f"accuracy {row.accuracy:.1%}, savings {savings} (${row.cost_per_item_usd:.6f}/item, {row.extra_calls} extra "
        f"calls" + (f", {row.unreadable} unreadable" if row.unreadable else "") + ")"
    )
