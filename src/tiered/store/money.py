"""Where the money goes: the report's breakdown of routed calls by prompt size, conversation depth and routing
reason.

A call's prompt size is its request's text (``request_chars``) at :data:`tiered.cascade.fit.CHARS_PER_TOKEN`
characters a token, bucketed as :func:`tiered.economics.ship_rates.size_bucket` buckets the expected-cost rule's
ship rates; its routing reason is the decision's ``reason`` (``shipped`` when a triage answer shipped, ``direct``
for a call answered without a reason); its depth is the decision's ``depth`` (user turns, bucketed as
:func:`tiered.economics.ship_rates.depth_bucket`; ``unknown`` for rows stored before revision 0008).
Savings are the counterfactual less the actual cost, over calls where both are known; a call *loses money*
when its savings are negative. The savings depend on the counterfactual, an estimate for shipped calls (see
:mod:`tiered.accounting`), and are net of the cache penalty (what the cascade's cold final-tier cache cost,
inside the actual cost), which each row also shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiered.cascade.fit import CHARS_PER_TOKEN
from tiered.economics.ship_rates import DEPTH_BUCKETS, SIZE_BUCKETS, depth_bucket, size_bucket

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

__all__ = ["MoneyRow", "money_rows"]


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """Routed calls of one prompt-size bucket (``by == "size"``), depth bucket (``"depth"``) or routing reason
    (``"reason"``)."""

    by: str
    key: str
    calls: int
    losing_calls: int  # calls whose savings are negative
    actual_usd: float
    savings_usd: float  # estimated: see the module docstring
    penalty_usd: float = 0.0  # the cache penalty, inside ``actual_usd`` (so ``savings_usd`` is net of it)


def money_rows(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[MoneyRow, ...]:
    """The breakdown for the decisions matching ``where``: sizes and depths smallest first, then reasons by
    savings."""
    import sqlalchemy as sa

    from tiered.store.schema import decisions as d

    size = sa.case(
        *((d.c.request_chars < high * CHARS_PER_TOKEN, size_bucket(high - 1)) for high in SIZE_BUCKETS),
        else_=size_bucket(SIZE_BUCKETS[-1]),
    )
    depth = sa.case(
        (d.c.depth.is_(None), "unknown"),
        *((d.c.depth <= high, depth_bucket(high)) for high in DEPTH_BUCKETS),
        else_=depth_bucket(DEPTH_BUCKETS[-1] + 1),
    )
    reason = sa.case((d.c.shipped, "shipped"), else_=sa.func.coalesce(d.c.reason, "direct"))
    both = sa.and_(d.c.cost_usd.is_not(None), d.c.counterfactual_cost_usd.is_not(None))
    saving = d.c.counterfactual_cost_usd - d.c.cost_usd
    rows: list[MoneyRow] = []
    order = {size_bucket(high - 1): n for n, high in enumerate(SIZE_BUCKETS)}
    order |= {depth_bucket(high): n for n, high in enumerate(DEPTH_BUCKETS)}
    order |= {depth_bucket(DEPTH_BUCKETS[-1] + 1): len(DEPTH_BUCKETS), "unknown": len(order) + 1}
    for by, column in (("size", size), ("depth", depth), ("reason", reason)):
        found = conn.execute(
            sa.select(
                column,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((sa.and_(both, saving < 0), 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(d.c.cost_usd), 0.0),
                sa.func.coalesce(sa.func.sum(sa.case((both, saving))), 0.0),
                sa.func.coalesce(sa.func.sum(sa.case((both, d.c.cache_penalty_usd))), 0.0),
            )
            .where(where, sa.not_(d.c.passthrough), d.c.answered_by.is_not(None))
            .group_by(column)
        ).all()
        part = [MoneyRow(by, str(k), int(n), int(lose), float(c), float(s), float(p)) for k, n, lose, c, s, p in found]
        if by != "reason":
            part.sort(key=lambda r: order.get(r.key, len(order)))
        else:
            part.sort(key=lambda r: (r.savings_usd, r.key))
        rows.extend(part)
    return tuple(rows)
