"""Rich tables of a backtest for people (``--json`` is for machines), and the row selection they share."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tiered.formatting import money, shared_money_digits
from tiered.offline.backtest import BacktestResult
from tiered.offline.sweep import Point

__all__ = ["display_rows", "fmt_pct", "fmt_points", "fmt_usd", "render"]


def fmt_pct(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.1%}"


def fmt_points(value: float) -> str:
    """An accuracy difference in percentage points."""
    return f"{100 * value:+.1f}"


def fmt_usd(value: float, digits: int | None = None) -> str:
    return money(value, digits=digits)


def display_rows(result: BacktestResult, max_rows: int = 25) -> list[Point]:
    """Grid rows worth showing: one per distinct behaviour (its highest threshold), thinned to ``max_rows``,
    always keeping the seed and recommended thresholds."""
    sw = result.sweep
    key = np.column_stack([sw.tier_answers, sw.correct])
    changed = np.ones(sw.thresholds.size, dtype=bool)
    changed[1:] = np.any(key[1:] != key[:-1], axis=1)
    indices = np.flatnonzero(changed)
    if indices.size > max_rows:
        indices = indices[np.unique(np.linspace(0, indices.size - 1, max_rows).round().astype(int))]
    rows = {float(sw.thresholds[i]): sw.point(int(i)) for i in indices}
    specials = [result.seed]
    rec = result.recommendation
    if rec is not None and rec.met:
        specials.append(rec.point)
    for point in specials:
        if point.threshold is not None:
            rows[point.threshold] = point
    return [rows[t] for t in sorted(rows, reverse=True)]


def render(result: BacktestResult, console: Console, *, max_rows: int = 25) -> None:
    """Print the backtest as tables: summary, recommendation, grid, calibration, slices."""
    calibrated = " (calibrated confidence)" if result.calibrated else ""
    console.print(
        f"[bold]Backtest[/bold] of {escape(result.source)}: {result.n:,} queries, {result.tiers} tiers "
        f"({result.form}), confidence scale {result.scale[0]:g}-{result.scale[1]:g}{calibrated}"
    )
    points = [result.all_cheap, result.all_deep, result.oracle, result.seed]
    rec = result.recommendation
    if rec is not None and rec.met:
        points.append(rec.point)
    refs = [(_policy_label(p), p) for p in points]
    shown = [*points, *display_rows(result, max_rows), *(g.point for g in result.groups)]
    digits = shared_money_digits(p.cost_per_call_usd for p in shown)
    console.print(_point_table("Reference points", "policy", refs, digits=digits))
    if rec is not None:
        style = "green" if rec.met else "bold red"
        console.print(f"[{style}]{escape(rec.message)}[/{style}]")
        if rec.bound is not None:
            console.print(
                escape(
                    f"  bound: {rec.bound.name} = {rec.bound.value:.4f} <= {rec.bound.target:g} "
                    f"with probability >= {1 - rec.bound.delta:.0%} ({rec.bound.method})"
                )
            )
    grid = []
    for point in display_rows(result, max_rows):
        mark = " *" if rec is not None and rec.met and point.threshold == rec.point.threshold else ""
        seed = " (seed)" if point.threshold == result.seed.threshold else ""
        grid.append((f"{point.threshold:g}{mark}{seed}", point))
    console.print(_point_table("Threshold grid (one row per distinct behaviour)", "threshold", grid, digits=digits))
    cal = result.calibration
    if cal is not None:
        auroc = "n/a" if cal.auroc is None else f"{cal.auroc:.3f}"
        console.print(
            f"[bold]Calibration[/bold] of tier {cal.tier}: AUROC {auroc}, ECE {cal.ece:.3f}, Brier "
            f"{cal.brier:.3f}, mean confidence {cal.mean_confidence:.1%} vs accuracy {cal.accuracy:.1%} "
            f"({cal.n:,} scored, {cal.missing:,} without confidence)"
        )
        bins = Table("score", "queries", "mean confidence", "accuracy", title="Reliability")
        for b in cal.bins:
            span = f"{b.lo:g}" if b.lo == b.hi else f"{b.lo:g}-{b.hi:g}"
            bins.add_row(span, f"{b.count:,}", fmt_pct(b.mean_confidence), fmt_pct(b.accuracy))
        console.print(bins)
    if result.groups:
        slices = [(g.group, g.point) for g in result.groups]
        upper = ("upper", [fmt_pct(g.false_confident_upper) for g in result.groups])
        title = "Slices at the headline threshold"
        console.print(_point_table(title, "slice", slices, digits=digits, columns=_SLICES, extra=upper))
    console.print(_LEGEND, style="dim")


_LEGEND = (
    "shipped: queries a non-final tier answered; escal.: escalation rate; FCR: false-confident rate (wrong among"
    " shipped; upper: its bound); vs deep: accuracy minus the final tier's, in points"
)

_Cell = Callable[[Point, int], str]
_COLUMNS: dict[str, _Cell] = {
    "queries": lambda p, _: f"{p.n:,}",
    "shipped": lambda p, _: f"{p.shipped:,}",
    "escal.": lambda p, _: fmt_pct(p.escalation_rate),
    "accuracy": lambda p, _: fmt_pct(p.accuracy),
    "FCR": lambda p, _: fmt_pct(p.false_confident_rate),
    "cost/call": lambda p, digits: fmt_usd(p.cost_per_call_usd, digits),
    "savings": lambda p, _: fmt_pct(p.savings_vs_deep),
    "vs deep": lambda p, _: fmt_points(p.quality_vs_deep),
}
_GRID = ("shipped", "escal.", "accuracy", "FCR", "cost/call", "savings", "vs deep")
# a slice's own size matters and its escalation rate follows from it: room for the bound instead
_SLICES = ("queries", "shipped", "accuracy", "FCR", "cost/call", "savings", "vs deep")


def _policy_label(point: Point) -> str:
    if point.threshold is None or point.label.endswith(f"{point.threshold:g}"):
        return point.label
    return f"{point.label} {point.threshold:g}"


def _point_table(
    title: str,
    first: str,
    rows: list[tuple[str, Point]],
    *,
    digits: int,
    columns: tuple[str, ...] = _GRID,
    extra: tuple[str, list[str]] | None = None,
) -> Table:
    """One row per point, fitting 80 columns: short headers (see the legend), numbers never cut, labels
    wrapping instead of losing their end, one money precision (``digits``) for the whole backtest."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, collapse_padding=True)
    table.add_column(first, overflow="fold", min_width=len(first))
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    if extra is not None:
        table.add_column(extra[0], justify="right", no_wrap=True)
    for index, (label, point) in enumerate(rows):
        cells = [escape(label), *(_COLUMNS[name](point, digits) for name in columns)]
        table.add_row(*cells, *([extra[1][index]] if extra is not None else []))
    return table
