"""Shadow projections in ``tiered report``: a table per (route, slice), and the JSON section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console
    from sqlalchemy.engine import Engine

    from .projection import ShadowProjection

__all__ = ["render_shadow", "shadow_section"]


def shadow_section(engine: Engine, *, since: datetime | None, route: str | None) -> list[ShadowProjection]:
    """The projections for ``tiered report`` (none when no route has shadow results)."""
    from tiered.config import load_settings

    from .projection import shadow_projections

    return shadow_projections(engine, load_settings(), route=route, since=since)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_shadow(projections: Sequence[ShadowProjection], console: Console) -> None:
    """Print one table per projection, with the recommendation under it."""
    from rich.table import Table

    for projection in projections:
        where = projection.route + (f", slice {projection.slice}" if projection.slice else "")
        table = Table(
            title=f"Shadow projection: {where} ({projection.n} requests triaged in background)",
            caption=f"false-confident bound: one-sided {projection.level:.0%} Clopper-Pearson; "
            f"target {projection.target:g}",
        )
        for name in ("threshold", "ship rate", "savings", "false-confident", "bound", "graded"):
            table.add_column(name, justify="right")
        for p in projection.points:
            over = p.upper_bound > projection.target
            table.add_row(
                f"{p.threshold:.2f}",
                _pct(p.ship_rate),
                _pct(p.savings_share),
                _pct(p.false_confident_rate),
                f"[red]{p.upper_bound:.1%}[/red]" if over else f"{p.upper_bound:.1%}",
                f"{p.wrong}/{p.graded}",
            )
        console.print(table)
        rec: dict[str, Any] = projection.recommendation or {}
        if rec:
            console.print(f"backtest --from-log: {rec.get('message', '')}")
