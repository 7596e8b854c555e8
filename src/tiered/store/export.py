"""``tiered export``: decisions as JSON lines (with their attempts) or CSV, for analysis elsewhere.

Rows are read in keyset-paginated chunks (``created_at, id``), so an export of millions of decisions holds one
chunk in memory and no long-running cursor. Stored text is left out unless asked for.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["CONTENT_COLUMNS", "ExportFormat", "export_decisions"]

ExportFormat = Literal["jsonl", "csv"]
CONTENT_COLUMNS = ("request_text", "answer_text", "content_reason", "content_expires_at")


def export_decisions(
    engine: Engine,
    out: TextIO,
    *,
    fmt: ExportFormat = "jsonl",
    since: datetime | None = None,
    until: datetime | None = None,
    route: str | None = None,
    include_content: bool = False,
    chunk: int = 1000,
) -> int:
    """Write decisions (oldest first) to ``out``; return how many were written."""
    from tiered.store.schema import decisions

    columns = [c.name for c in decisions.columns if include_content or c.name not in CONTENT_COLUMNS]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    count = 0
    with engine.connect() as conn:
        for rows in _chunks(conn, columns=columns, since=since, until=until, route=route, chunk=chunk):
            if writer is not None:
                writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
            else:
                attempts = _attempts(conn, [row["id"] for row in rows])
                for row in rows:
                    record = {k: _json_value(v) for k, v in row.items()}
                    record["attempts"] = attempts.get(row["id"], [])
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += len(rows)
    return count


def _chunks(
    conn: Connection,
    *,
    columns: list[str],
    since: datetime | None,
    until: datetime | None,
    route: str | None,
    chunk: int,
) -> Iterator[list[dict[str, Any]]]:
    import sqlalchemy as sa

    from tiered.store.schema import UtcDateTime
    from tiered.store.schema import decisions as d

    base = sa.select(*(d.c[name] for name in columns))
    if since is not None:
        base = base.where(d.c.created_at >= since)
    if until is not None:
        base = base.where(d.c.created_at < until)
    if route is not None:
        base = base.where(d.c.route == route)
    last: tuple[datetime, str] | None = None
    while True:
        query = base.order_by(d.c.created_at, d.c.id).limit(chunk)
        if last is not None:
            after = sa.tuple_(sa.literal(last[0], UtcDateTime()), sa.literal(last[1], d.c.id.type))
            query = query.where(sa.tuple_(d.c.created_at, d.c.id) > after)
        rows = [dict(r) for r in conn.execute(query).mappings()]
        if not rows:
            return
        yield rows
        last = (rows[-1]["created_at"], rows[-1]["id"])
        if len(rows) < chunk:
            return


def _attempts(conn: Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    import sqlalchemy as sa

    from tiered.store.schema import attempts as a

    grouped: dict[str, list[dict[str, Any]]] = {}
    query = sa.select(a).where(a.c.decision_id.in_(ids)).order_by(a.c.decision_id, a.c.idx)
    for row in conn.execute(query).mappings():
        attempt = {k: v for k, v in row.items() if k != "decision_id"}
        grouped.setdefault(row["decision_id"], []).append(attempt)
    return grouped


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return value
