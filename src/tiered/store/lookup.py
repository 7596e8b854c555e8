"""Reading one decision back by id, as the JSON the decision API serves (text only when it was stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

from .records import USAGE_COLUMNS

__all__ = ["load_decision"]

_TOKENS = USAGE_COLUMNS


def load_decision(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    """The decision ``decision_id`` with its attempts, in the shape of ``Decision.to_dict()``; ``None``
    when there is no such decision."""
    import sqlalchemy as sa

    from .schema import attempts, decisions

    with engine.connect() as conn:
        row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).mappings().first()
        if row is None:
            return None
        rows = conn.execute(
            sa.select(attempts).where(attempts.c.decision_id == decision_id).order_by(attempts.c.idx)
        ).mappings()
        attempt_list = []
        for a in rows:
            item = {k: v for k, v in a.items() if k not in ("decision_id", "idx", *_TOKENS)}
            item["usage"] = {k: a[k] for k in _TOKENS}
            item["rewrites"] = list(a["rewrites"] or [])
            attempt_list.append(item)
    out = {k: v for k, v in row.items() if k not in _TOKENS}
    out["created_at"] = row["created_at"].isoformat()
    if row["content_expires_at"] is not None:
        out["content_expires_at"] = row["content_expires_at"].isoformat()
    out["usage"] = {k: row[k] for k in _TOKENS}
    cost, counterfactual = row["cost_usd"], row["counterfactual_cost_usd"]
    out["savings_usd"] = counterfactual - cost if cost is not None and counterfactual is not None else None
    out["attempts"] = attempt_list
    return out
