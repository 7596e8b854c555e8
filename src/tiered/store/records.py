"""How a :class:`~tiered.decision.Decision` becomes rows, spool lines, and idempotent inserts.

A :class:`Record` is the rows of one decision, ready for the database. The same record is what the spool
keeps, one JSON line each, so a replay inserts exactly what the first attempt would have. Inserts use
``ON CONFLICT DO NOTHING`` on both dialects: replaying a record that is already stored changes nothing.
"""

from __future__ import annotations

import json
import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from tiered.decision import Attempt, Decision, Outcome, TokenUsage
from tiered.fastjson import dumps
from tiered.store.privacy import Content, redact

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Dialect

__all__ = [
    "SPOOL_FORMAT",
    "USAGE_COLUMNS",
    "Record",
    "decode_record",
    "encode_record",
    "insert_records",
    "to_record",
    "usage_columns",
]

SPOOL_FORMAT: Final = 1
_DATETIME_KEYS: Final = ("created_at", "content_expires_at")
# columns newer than SPOOL_FORMAT 1, with what a record spooled by an older tiered means by leaving them out
_USAGE_ADDED: Final = {"cache_creation_1h_input_tokens": 0, "web_search_requests": 0, "web_fetch_requests": 0}
_ADDED_LATER: Final = {
    "replica": None,
    "degraded": False,
    **_USAGE_ADDED,
    "reason_detail": None,
    "score": None,
    "mode": "live",
    "slice": None,
    "cache_penalty_usd": None,
    "depth": None,
}
_ATTEMPT_ADDED_LATER: Final = {
    **_USAGE_ADDED,
    "reported_usage": None,
    "usage_estimated": False,
    "score": None,
    "threshold": None,
}
# the token and request counts of a TokenUsage, stored as columns of the same names
USAGE_COLUMNS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_1h_input_tokens",
    "web_search_requests",
    "web_fetch_requests",
)


@dataclass(frozen=True, slots=True)
class Record:
    """The ``decisions`` row and ``attempts`` rows of one decision."""

    id: str
    decision: Mapping[str, Any]
    attempts: tuple[Mapping[str, Any], ...]


def to_record(decision: Decision, content: Content | None, retention: timedelta) -> Record:
    """Rows for ``decision``; text is included (redacted, with an expiry) only when ``content`` is given."""
    row = _decision_row(decision)
    if content is not None and (content.request_text is not None or content.answer_text is not None):
        row["request_text"] = _clean(redact(content.request_text)) if content.request_text is not None else None
        row["answer_text"] = _clean(redact(content.answer_text)) if content.answer_text is not None else None
        row["content_reason"] = content.reason.value
        row["content_expires_at"] = decision.created_at + retention
    attempts = [_attempt_row(decision.id, idx, a) for idx, a in enumerate(decision.attempts)]
    return Record(decision.id, row, tuple(attempts))


def _decision_row(decision: Decision) -> dict[str, Any]:
    """The decision's own row, without text."""
    return {
        "id": decision.id,
        "created_at": decision.created_at,
        "route": _clean(decision.route),
        "answered_by": _clean(decision.answered_by),
        "answer_tier": decision.answer_tier,
        "escalated": decision.escalated,
        "shipped": any(a.outcome is Outcome.SHIPPED for a in decision.attempts),
        "reason": decision.reason.value if decision.reason is not None else None,
        "confidence": decision.confidence,
        "threshold": decision.threshold,
        "score": decision.score,
        "cost_usd": decision.cost_usd,
        "counterfactual_cost_usd": decision.counterfactual_cost_usd,
        "latency_ms": decision.latency_ms,
        "stream": decision.stream,
        "passthrough": decision.passthrough,
        "error": _clean(decision.error),
        "error_status": decision.error_status,
        "key_id": decision.key_id,
        "replica": decision.replica,
        "degraded": decision.degraded,
        "reason_detail": _clean(decision.reason_detail),
        "mode": decision.mode,
        "slice": decision.slice,
        "cache_penalty_usd": decision.cache_penalty_usd,
        "depth": decision.depth,
        "request_hash": decision.request_hash,
        "request_chars": decision.request_chars,
        "answer_chars": decision.answer_chars,
        **usage_columns(decision.usage),
        "request_text": None,
        "answer_text": None,
        "content_reason": None,
        "content_expires_at": None,
    }


def _attempt_row(decision_id: str, idx: int, a: Attempt) -> dict[str, Any]:
    """One attempt's row."""
    return {
        "decision_id": decision_id,
        "idx": idx,
        "tier": a.tier,
        "model": _clean(a.model),
        "role": a.role.value,
        "outcome": a.outcome.value,
        "confidence": a.confidence,
        "score": a.score,
        "threshold": a.threshold,
        "reason": a.reason.value if a.reason is not None else None,
        **usage_columns(a.usage),
        "cost_usd": a.cost_usd,
        "latency_ms": a.latency_ms,
        "first_token_ms": a.first_token_ms,
        "stop_reason": _clean(a.stop_reason),
        "status": a.status,
        "error": _clean(a.error),
        "request_id": _clean(a.request_id),
        "rewrites": list(a.rewrites),
        "stream_aborted": a.stream_aborted,
        "reported_usage": a.reported_usage,
        "usage_estimated": a.usage_estimated,
    }


_USAGE_VALUES: Final = operator.attrgetter(*USAGE_COLUMNS)


def usage_columns(usage: TokenUsage) -> dict[str, int]:
    """The ``USAGE_COLUMNS`` of a decision or attempt row."""
    return dict(zip(USAGE_COLUMNS, _USAGE_VALUES(usage), strict=True))


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_record(record: Record) -> bytes:
    """One spool line (JSON, newline-terminated). Times are written in ISO 8601 (``isoformat``'s text) by
    orjson itself, with :func:`_isoformat` for the rare line it leaves to ``json`` (see
    :mod:`tiered.fastjson`): each decision is encoded on the request path, for the write-ahead log."""
    payload = {"v": SPOOL_FORMAT, "decision": record.decision, "attempts": record.attempts}
    return dumps(payload, default=_isoformat) + b"\n"


def decode_record(line: bytes) -> Record:
    """Parse a spool line; raises ``ValueError`` for anything that is not a complete record."""
    try:
        payload = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not a tiered spool record: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("v") != SPOOL_FORMAT:
        raise ValueError("not a tiered spool record (unknown format)")
    decision = payload.get("decision")
    attempts = payload.get("attempts")
    if not isinstance(decision, dict) or not isinstance(attempts, list) or not isinstance(decision.get("id"), str):
        raise ValueError("not a tiered spool record: no decision id")
    for key in _DATETIME_KEYS:
        value = decision.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise ValueError(f"not a tiered spool record: {key} is not a time")
            decision[key] = datetime.fromisoformat(value)
    if not all(isinstance(a, dict) for a in attempts):
        raise ValueError("not a tiered spool record: malformed attempts")
    for key, default in _ADDED_LATER.items():  # spooled by an older tiered
        decision.setdefault(key, default)
    for attempt in attempts:
        for key, default in _ATTEMPT_ADDED_LATER.items():
            attempt.setdefault(key, default)
    return Record(decision["id"], decision, tuple(attempts))


def insert_records(connection: Connection, records: Sequence[Record]) -> None:
    """Insert ``records`` in the caller's transaction; records whose id is already stored are skipped."""
    from tiered.store.schema import attempts, decisions

    if not records:
        return
    attempt_rows = [row for r in records for row in r.attempts]
    if connection.dialect.name == "sqlite":
        _insert_sqlite(connection, decisions, [r.decision for r in records])
        if attempt_rows:
            _insert_sqlite(connection, attempts, attempt_rows)
        return
    from sqlalchemy.dialects import postgresql

    connection.execute(postgresql.insert(decisions).on_conflict_do_nothing(), [r.decision for r in records])
    if attempt_rows:
        connection.execute(postgresql.insert(attempts).on_conflict_do_nothing(), attempt_rows)


# SQLite inserts by (dialect, table, columns): the statement, a getter of the row's values in column order, and
# the bind processors of the columns that have one (by position), made once.
_Plan = tuple[str, Callable[[Mapping[str, Any]], Any], tuple[tuple[int, Callable[[Any], Any]], ...]]
_SQLITE_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _insert_sqlite(connection: Connection, table: Table, rows: list[Mapping[str, Any]]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` of ``rows`` with the driver's ``executemany``: the same SQL and the
    same values as SQLAlchemy's insert (each column's own bind processor converts its values), without its
    compilation of every row's parameters (a third of the decision writer's CPU). A row's values are taken
    in one ``itemgetter`` call; only the columns with a processor (times, booleans, JSON) are then converted."""
    columns = tuple(rows[0])
    if len(columns) < 2 or any(len(row) != len(columns) or row.keys() != rows[0].keys() for row in rows):
        from sqlalchemy.dialects import sqlite

        connection.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
        return
    plans = _SQLITE_PLANS.setdefault(connection.dialect, {})
    plan = plans.get((table.name, columns))
    if plan is None:
        types = {column.name: column.type for column in table.columns}
        quote = connection.dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
        )
        processors = [
            types[name].dialect_impl(connection.dialect).bind_processor(connection.dialect) for name in columns
        ]
        plan = plans[(table.name, columns)] = (
            sql,
            operator.itemgetter(*columns),
            tuple((index, convert) for index, convert in enumerate(processors) if convert is not None),
        )
    sql, values_of, converters = plan
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(values_of(row))
        for index, convert in converters:
            values[index] = convert(values[index])
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def _clean(text: str | None) -> str | None:
    # PostgreSQL rejects NUL in text; one such byte must not fail (and so spool) a whole batch.
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")
