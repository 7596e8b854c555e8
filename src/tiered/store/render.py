"""Rich tables for a :class:`~tiered.store.report.Report`, for people (``--json`` is for machines).

Imported only to render (``tiered report``), so rich loads with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from tiered.formatting import money, percent, shared_money_digits

if TYPE_CHECKING:
    from rich.console import Console

    from tiered.store.report import Report

__all__ = ["render_report"]

_BAR = 30
PASSTHROUGH = "(pass-through)"


def render_report(report: Report, console: Console) -> None:
    """Print ``report`` as a handful of tables."""
    window = f"since {report.since:%Y-%m-%d %H:%M} UTC" if report.since else "all time"
    if report.route:
        window += f", route {report.route}"
    if report.calls == 0:
        console.print(f"No decisions recorded ({window}).")
        return
    console.print(_summary(report, window))
    console.print(_tiers(report))
    if report.reasons:
        console.print(_reasons(report))
    console.print(_histogram(report))
    console.print(_latency(report))
    if report.money:
        _render_money(report, console)
    if len(report.routes) > 1:
        console.print(_routes(report))


def _summary(report: Report, window: str) -> Table:
    summary = Table(title=f"tiered report ({window})", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    cost = report.cost
    summary.add_row("calls", f"{report.calls:,}")
    summary.add_row(
        "routed / passthrough / failed",
        f"{report.routed_calls:,} / {report.passthrough_calls:,} / {report.failed_calls:,}",
    )
    summary.add_row("escalation rate", _pct(report.escalation_rate))
    # read together: one precision for the three amounts
    digits = shared_money_digits((cost.actual_usd, cost.counterfactual_usd, cost.savings_usd))
    summary.add_row("actual cost", money(cost.actual_usd, digits=digits))
    summary.add_row("counterfactual cost", money(cost.counterfactual_usd, digits=digits))
    savings_pct = None if cost.savings_pct is None else cost.savings_pct / 100
    summary.add_row("savings", f"{money(cost.savings_usd, digits=digits)} ({percent(savings_pct)})")
    if cost.cache_penalty_usd:
        summary.add_row("cache penalty (in the cost)", money(cost.cache_penalty_usd, digits=digits))
    if cost.unknown_cost_calls:
        summary.add_row("calls with unknown cost", f"{cost.unknown_cost_calls:,}")
    quality = report.quality
    summary.add_row(
        "false-confident rate",
        f"{_pct(quality.false_confident_rate)} ({quality.graded_calls:,} graded calls)"
        if quality.false_confident_rate is not None
        else "no grades yet",
    )
    return summary


def _tiers(report: Report) -> Table:
    tiers = Table(title="answered by", title_justify="left")
    for name in ("tier", "model", "calls", "share"):
        tiers.add_column(name, justify="right" if name in ("calls", "share") else "left")
    for share in report.tiers:
        tier = PASSTHROUGH if share.passthrough else "-" if share.tier is None else str(share.tier)
        tiers.add_row(tier, share.model or "(no answer)", f"{share.calls:,}", _pct(share.share))
    return tiers


def _reasons(report: Report) -> Table:
    reasons = Table(title="escalation reasons", title_justify="left")
    reasons.add_column("reason")
    reasons.add_column("calls", justify="right")
    reasons.add_column("share", justify="right")
    for reason in report.reasons:
        reasons.add_row(reason.reason, f"{reason.calls:,}", _pct(reason.share))
    return reasons


def _histogram(report: Report) -> Table:
    histogram = Table(title="triage confidence", title_justify="left")
    histogram.add_column("confidence")
    histogram.add_column("calls", justify="right")
    histogram.add_column("shipped", justify="right")
    histogram.add_column("")
    peak = max((b.calls for b in report.confidence_histogram), default=0) or 1
    for bucket in report.confidence_histogram:
        bar = "█" * round(_BAR * bucket.calls / peak)
        histogram.add_row(f"{bucket.low:.1f}-{bucket.high:.1f}", f"{bucket.calls:,}", f"{bucket.shipped:,}", bar)
    return histogram


def _latency(report: Report) -> Table:
    latency = Table(title="latency by outcome", title_justify="left")
    for name in ("outcome", "calls", "p50 ms", "p95 ms"):
        latency.add_column(name, justify="left" if name == "outcome" else "right")
    for stat in report.latency:
        latency.add_row(stat.outcome, f"{stat.calls:,}", _ms(stat.p50_ms), _ms(stat.p95_ms))
    return latency


def _routes(report: Report) -> Table:
    routes = Table(title="routes", title_justify="left")
    for name in ("route", "calls", "escalation rate", "cost", "savings"):
        routes.add_column(name, justify="left" if name == "route" else "right")
    digits = shared_money_digits(v for r in report.routes for v in (r.actual_usd, r.savings_usd))
    for r in report.routes:
        routes.add_row(
            r.route or PASSTHROUGH,  # pass-through calls have no route: the client named a plain model
            f"{r.calls:,}",
            _pct(r.escalation_rate),
            money(r.actual_usd, digits=digits),
            money(r.savings_usd, digits=digits),
        )
    return routes


_MONEY_BY = {"size": "prompt size", "depth": "depth (turns)", "reason": "reason"}


def _render_money(report: Report, console: Console) -> None:
    """Where the money goes: which prompt sizes, conversation depths and routing reasons the cascade pays off on,
    and which lose. Savings are net of the cache penalty, shown apart (it is part of the cost)."""
    from rich.table import Table

    table = Table(title="where the money goes (savings are estimates)", title_justify="left")
    for name in ("by", "group", "calls", "losing money", "cost", "savings", "cache penalty"):
        table.add_column(name, justify="left" if name in ("by", "group") else "right")
    digits = shared_money_digits(v for r in report.money for v in (r.actual_usd, r.savings_usd, r.penalty_usd))
    for row in report.money:
        savings = money(row.savings_usd, digits=digits)
        table.add_row(
            _MONEY_BY.get(row.by, row.by),
            row.key,
            f"{row.calls:,}",
            f"{row.losing_calls:,}",
            money(row.actual_usd, digits=digits),
            f"[red]{savings}[/red]" if row.savings_usd < 0 else savings,
            money(row.penalty_usd, digits=digits) if row.penalty_usd else "",
        )
    console.print(table)


def _pct(fraction: float | None) -> str:
    return percent(fraction)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
