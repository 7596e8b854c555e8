"""``tiered backtest --from-log --replay-rule``: the expected-cost rule replayed on the decision log.

Reads a two-tier route's decisions whose first tier triaged (graded or not), oldest first, hands them to
:func:`tiered.economics.replay.replay` and prints which of them the rule would not have triaged and what that
would have changed. Failed, passthrough and unpriced decisions, and those that never triaged, are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tiered.decision import TokenUsage
from tiered.economics.replay import LoggedTurn, Replay, replay
from tiered.errors import ConfigError
from tiered.offline.from_log import _attempts_of
from tiered.store.records import USAGE_COLUMNS

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.offline.from_log import LogQuery

__all__ = ["print_replay", "read_turns", "replay_log"]


def _usage(attempt: Mapping[str, Any]) -> TokenUsage:
    return TokenUsage(*(int(attempt[c] or 0) for c in USAGE_COLUMNS))


def _turn(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> LoggedTurn | None:
    triage = next((a for a in attempts if a["role"] == "triage" and a["tier"] == 0), None)
    if triage is None or row["cost_usd"] is None or triage["outcome"] not in ("shipped", "escalated", "invalid"):
        return None
    final = next((a for a in attempts if a["role"] == "final" and a["outcome"] == "answered"), None)
    shipped = triage["outcome"] == "shipped"
    if not shipped and final is None:
        return None
    return LoggedTurn(
        id=row["id"],
        depth=int(row["depth"] or 1),
        cheap_model=triage["model"],
        final_model=final["model"] if final is not None else str(row["final_model"] or ""),
        triage=_usage(triage),
        shipped=shipped,
        final=_usage(final) if final is not None else None,
        cost_usd=float(row["cost_usd"]),
        final_cost_usd=(final["cost_usd"] if final is not None else row["counterfactual_cost_usd"]),
    )


def read_turns(engine: Engine, route: str, final_model: str, since: Any = None) -> list[LoggedTurn]:
    """The triaged decisions of ``route`` (whose final tier is ``final_model``), oldest first."""
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    query = sa.select(d.c.id, d.c.cost_usd, d.c.counterfactual_cost_usd, d.c.depth).where(
        d.c.route == route, sa.not_(d.c.passthrough), d.c.answered_by.is_not(None)
    )
    if since is not None:
        query = query.where(d.c.created_at >= since)
    with engine.connect() as conn:
        rows = [{**r, "final_model": final_model} for r in conn.execute(query.order_by(d.c.created_at)).mappings()]
        by_decision = _attempts_of(conn, [r["id"] for r in rows])
    turns = (_turn(r, by_decision.get(r["id"], [])) for r in rows)
    return [t for t in turns if t is not None]


def replay_log(query: LogQuery, settings: Settings) -> tuple[str, Replay, int]:
    """(route, the replay, decisions read) for ``query``'s route (the only configured one when not given)."""
    from tiered.pricing import PriceBook
    from tiered.store.engine import make_engine
    from tiered.store.migrate import ensure_current
    from tiered.store.paths import default_database_url

    route = query.route or (next(iter(settings.routes)) if len(settings.routes) == 1 else None)
    if route is None or route not in settings.routes:
        raise ConfigError(f"--replay-rule needs --route, one of: {', '.join(sorted(settings.routes))}")
    tiers = settings.routes[route].tiers
    if len(tiers) != 2:
        raise ConfigError(f"--replay-rule replays two-tier routes; route {route!r} has {len(tiers)} tiers")
    engine = make_engine(query.database_url or default_database_url(settings))
    try:
        ensure_current(engine)
        turns = read_turns(engine, route, tiers[-1].model, query.since)
    finally:
        engine.dispose()
    return route, replay(turns, PriceBook()), len(turns)


def print_replay(console: Console, route: str, result: Replay, read: int, *, limit: int = 20) -> None:
    from rich.table import Table

    skipped = result.skipped
    shipped = sum(1 for t in skipped if t.shipped)
    console.print(
        f"route {route}: {read} triaged decisions, {len(result.turns)} priced ({result.unpriced} unpriced); "
        f"the expected-cost rule would not have triaged {len(skipped)} ({shipped} of them shipped). "
        f"Cost difference: {result.difference_usd:+.6f} USD (negative: the rule is cheaper; shipped turns "
        "are priced at their counterfactual, an estimate)."
    )
    if not skipped:
        return
    table = Table(title="decisions the rule would have answered on the final tier directly", title_justify="left")
    for name in ("decision", "was", "difference (USD)", "why"):
        table.add_column(name, justify="right" if name.startswith("difference") else "left")
    for t in skipped[:limit]:
        table.add_row(t.id, "shipped" if t.shipped else "escalated", f"{t.difference_usd:+.6f}", t.detail)
    console.print(table)
