"""Rich tables of a backtest for people (``--json`` is for machines), and the row selection they share."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

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


def fmt_usd(value: float) -> str:
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


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
    refs = _point_table("Reference points", show_threshold=True)
    points = [result.all_cheap, result.all_deep, result.oracle, result.seed]
    rec = result.recommendation
    if rec is not None and rec.met:
        points.append(rec.point)
    for point in points:
        _add_point(refs, point, label=point.label)
    console.print(refs)
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
    grid = _point_table("Threshold grid (one row per distinct behaviour)", show_threshold=False)
    for point in display_rows(result, max_rows):
        mark = " *" if rec is not None and rec.met and point.threshold == rec.point.threshold else ""
        seed = " (seed)" if point.threshold == result.seed.threshold else ""
        _add_point(grid, point, label=f"{point.threshold:g}{mark}{seed}")
    console.print(grid)
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
        groups = _point_table("Slices at the headline threshold", show_threshold=False)
        groups.add_column("FCR upper", justify="right")
        for g in result.groups:
            _add_point(groups, g.point, label=g.group, extra=[fmt_pct(g.false_confident_upper)])
        console.print(groups)


def _point_table(title: str, *, show_threshold: bool) -> Table:
    table = Table(title=title)
    table.add_column("policy" if show_threshold else "threshold")
    if show_threshold:
        table.add_column("threshold", justify="right")
    for name in ("n", "escalation", "accuracy", "false-confident", "cost/call", "savings", "vs deep (pts)"):
        table.add_column(name, justify="right")
    return table


def _add_point(table: Table, point: Point, *, label: str, extra: list[str] | None = None) -> None:
    cells = [escape(label)]
    if table.columns[1].header == "threshold":
        cells.append("-" if point.threshold is None else f"{point.threshold:g}")
    cells += [
        f"{point.n:,}",
        fmt_pct(point.escalation_rate),
        fmt_pct(point.accuracy),
        fmt_pct(point.false_confident_rate),
        fmt_usd(point.cost_per_call_usd),
        fmt_pct(point.savings_vs_deep),
        fmt_points(point.quality_vs_deep),
        *(extra or []),
    ]
    table.add_row(*cells)
