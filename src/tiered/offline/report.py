"""One self-contained HTML report of a backtest: tables, explanation, and the PNG plots embedded as base64."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from tiered.offline.backtest import BacktestResult
from tiered.offline.plots import frontier_png, reliability_png
from tiered.offline.sweep import Point
from tiered.offline.tables import display_rows, fmt_pct, fmt_points, fmt_usd

if TYPE_CHECKING:
    from tiered.offline.recommend import Recommendation

__all__ = ["html_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1080px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.ok{background:#eef8ee;border-left:4px solid #55a868;padding:.6em 1em}
.no{background:#fbeeee;border-left:4px solid #c44e52;padding:.6em 1em}
.rec td{font-weight:600}img{max-width:100%}small{color:#666}
"""

_COLUMNS = ("shipped", "escalation", "accuracy", "false-confident", "cost/call", "savings", "vs deep (pts)")


def html_report(result: BacktestResult, *, title: str = "tiered backtest", notes: Sequence[str] = ()) -> str:
    """The report as one HTML document; ``notes`` are extra paragraphs (e.g. data attribution)."""
    rec = result.recommendation
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(result.source)}: {result.n:,} queries, {result.tiers} tiers ({escape(result.form)}), "
        f"confidence scale {result.scale[0]:g}-{result.scale[1]:g}"
        f"{' (calibrated confidence)' if result.calibrated else ''}. "
        f"<small>Generated {datetime.now(UTC).isoformat(timespec='seconds')}.</small></p>",
        *_recommendation(rec),
    ]
    refs = [result.all_cheap, result.all_deep, result.oracle, result.seed]
    if rec is not None and rec.met:
        refs.append(rec.point)
    parts += ["<h2>Reference points</h2>", _table(("policy", "threshold", *_COLUMNS), refs, labelled=True)]
    parts += [
        "<h2>Cost-quality frontier</h2>",
        _img(frontier_png(result), "cost-quality frontier"),
        "<h2>Threshold grid</h2><p><small>One row per distinct behaviour on these queries (the highest "
        "threshold of each run); a query ships when its confidence is at least the threshold.</small></p>",
        _table(
            ("threshold", *_COLUMNS),
            display_rows(result, 40),
            labelled=False,
            highlight=rec.point.threshold if rec is not None and rec.met else None,
        ),
    ]
    parts += _calibration(result) + _slices(result) + _what_the_bound_means(rec)
    parts += [*(f"<p><small>{escape(note)}</small></p>" for note in notes), "</body></html>"]
    return "\n".join(parts)


def _recommendation(rec: Recommendation | None) -> list[str]:
    if rec is None:
        return [
            "<p class='no'>No objective was given, so nothing is recommended: pass --max-false-confident, "
            "--max-quality-loss or --budget.</p>"
        ]
    parts = [f"<p class='{'ok' if rec.met else 'no'}'>{escape(rec.message)}"]
    if rec.bound is not None:
        parts.append(
            f"<br><small>Bound: {escape(rec.bound.name)} = {rec.bound.value:.4f} &le; "
            f"{rec.bound.target:g} with probability &ge; {1 - rec.bound.delta:.0%}; "
            f"{escape(rec.bound.method)}.</small>"
        )
    parts.append("</p>")
    return parts


def _calibration(result: BacktestResult) -> list[str]:
    cal = result.calibration
    if cal is None:
        return []
    auroc = "n/a" if cal.auroc is None else f"{cal.auroc:.3f}"
    return [
        "<h2>Calibration</h2>",
        f"<p>Tier {cal.tier}: AUROC {auroc}, expected calibration error {cal.ece:.3f}, Brier score "
        f"{cal.brier:.3f}; mean stated confidence {cal.mean_confidence:.1%} against accuracy "
        f"{cal.accuracy:.1%} ({cal.n:,} scored queries, {cal.missing:,} without a confidence). The red "
        "curve is the isotonic map that <code>--fit-calibration</code> writes for a route's "
        "<code>calibration</code> setting.</p>",
        _img(reliability_png(cal), "reliability diagram"),
    ]


def _slices(result: BacktestResult) -> list[str]:
    if not result.groups:
        return []
    rows = "".join(
        f"<tr><td>{escape(g.group)} ({g.point.n:,})</td>{_cells(g.point)}"
        f"<td>{fmt_pct(g.false_confident_upper)}</td></tr>"
        for g in result.groups
    )
    head = "".join(f"<th>{c}</th>" for c in ("slice (queries)", *_COLUMNS, f"FCR upper ({1 - result.delta:.0%})"))
    return ["<h2>Slices at the headline threshold</h2>", f"<table><tr>{head}</tr>{rows}</table>"]


def _what_the_bound_means(rec: Recommendation | None) -> list[str]:
    return [
        "<h2>What the bound means</h2>",
        "<p>The false-confident rate is the share of wrong answers among the answers a non-final tier "
        "ships. With <code>--max-false-confident A</code> the thresholds are tested from the highest down "
        "with an exact binomial test on the shipped queries and "
        + (
            "the fallback procedure (Wiens 2003): a failed test does not end the walk, which resumes at the "
            "next checkpoint with its own share of delta. "
            if rec is not None and rec.procedure == "fallback"
            else "the walk stops at the first that fails (fixed-sequence testing, Learn-then-Test, "
            "Angelopoulos et al. 2021). "
        )
        + "If future queries are "
        "exchangeable with these, the recommended threshold's false-confident rate is at most A with "
        "probability at least 1 &minus; delta. Slice bounds are pointwise, not simultaneous. See "
        "docs/backtest.md.</p>",
    ]


def _cells(point: Point) -> str:
    values = (
        f"{point.shipped:,}",
        fmt_pct(point.escalation_rate),
        fmt_pct(point.accuracy),
        fmt_pct(point.false_confident_rate),
        fmt_usd(point.cost_per_call_usd),
        fmt_pct(point.savings_vs_deep),
        fmt_points(point.quality_vs_deep),
    )
    return "".join(f"<td>{v}</td>" for v in values)


def _table(header: Sequence[str], points: Sequence[Point], *, labelled: bool, highlight: float | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = []
    for p in points:
        threshold = "-" if p.threshold is None else f"{p.threshold:g}"
        first = f"<td>{escape(p.label)}</td><td>{threshold}</td>" if labelled else f"<td>{threshold}</td>"
        cls = " class='rec'" if highlight is not None and p.threshold == highlight else ""
        rows.append(f"<tr{cls}>{first}{_cells(p)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
