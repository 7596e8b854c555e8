"""The decision store's tables, as SQLAlchemy Core metadata.

This module is the *current* shape of the schema; the migrations in ``tiered/store/migrations/versions`` are
how a database gets there, and a test checks that both agree. Change both together, in a new numbered
revision: migrations are append-only.

Times are stored in UTC (:class:`UtcDateTime`). Costs are US dollars as double precision, ``NULL`` when
unknown. Text columns (``request_text``, ``answer_text``) are ``NULL`` unless the request was picked for audit
or ``store_content`` is on, and are cleared again after ``content_expires_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "ALEMBIC_VERSION_TABLE",
    "GradeVerdict",
    "GraderKind",
    "UtcDateTime",
    "alerts",
    "attempts",
    "audit_samples",
    "confidence_versions",
    "decisions",
    "grades",
    "metadata",
    "shadow_results",
    "threshold_changes",
    "virtual_keys",
]

# Not the default ``alembic_version``: a PostgreSQL database may be shared with other applications.
ALEMBIC_VERSION_TABLE = "tiered_alembic_version"


class GradeVerdict(StrEnum):
    """A grade's verdict on a shipped answer (``grades.verdict``)."""

    CORRECT = "correct"
    INCORRECT = "incorrect"  # a shipped triage answer graded wrong: a false-confident call
    UNSURE = "unsure"  # the grader could not tell; left out of the false-confident rate


class GraderKind(StrEnum):
    """Who graded (``grades.grader_kind``)."""

    JUDGE = "judge"  # an LLM judge
    HUMAN = "human"
    APP = "app"  # the calling application's own feedback


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite keeps no offset, so UTC is implied there)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("route", sa.String(), nullable=False),
    sa.Column("answered_by", sa.String()),
    sa.Column("answer_tier", sa.Integer()),
    sa.Column("escalated", sa.Boolean(), nullable=False),
    # Derived from the attempts: a triage answer was shipped (the false-confident rate is about these).
    sa.Column("shipped", sa.Boolean(), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("confidence", sa.Float()),
    sa.Column("threshold", sa.Float()),
    sa.Column("cost_usd", sa.Float()),
    sa.Column("counterfactual_cost_usd", sa.Float()),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("stream", sa.Boolean(), nullable=False),
    sa.Column("passthrough", sa.Boolean(), nullable=False),
    sa.Column("error", sa.Text()),
    sa.Column("error_status", sa.Integer()),
    sa.Column("key_id", sa.String(64)),
    sa.Column("request_hash", sa.String(128)),
    sa.Column("request_chars", sa.Integer(), nullable=False),
    sa.Column("answer_chars", sa.Integer(), nullable=False),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_read_input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_creation_input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("request_text", sa.Text()),
    sa.Column("answer_text", sa.Text()),
    sa.Column("content_reason", sa.String(16)),
    sa.Column("content_expires_at", UtcDateTime()),
    sa.Column("replica", sa.String(64)),
    sa.Column("degraded", sa.Boolean(), nullable=False, server_default=sa.false()),
    # 0003: the part of the cache writes with the 1-hour TTL, and server-tool use (usage.server_tool_use)
    sa.Column("cache_creation_1h_input_tokens", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    sa.Column("web_search_requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("web_fetch_requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
    # 0004: why a request was not triaged (reason ``capability``): the feature and the model, in words
    sa.Column("reason_detail", sa.Text()),
    # 0005: the calibrated confidence the deciding triage was judged by (``confidence`` is its raw one)
    sa.Column("score", sa.Float()),
    # 0006: the route's mode (live or shadow) and the request's slice (RouteSettings.slice_from)
    sa.Column("mode", sa.String(16), nullable=False, server_default="live"),
    sa.Column("slice", sa.String(64)),
    # 0008: what the cascade's cold final-tier cache cost (tiered.accounting.cache_penalty), and the
    # conversation's depth (its user turns)
    sa.Column("cache_penalty_usd", sa.Float()),
    sa.Column("depth", sa.Integer()),
    sa.Index(None, "created_at"),
    sa.Index(None, "route", "created_at"),
    sa.Index(None, "key_id", "created_at"),
    sa.Index(None, "content_expires_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column(
        "decision_id",
        sa.String(64),
        sa.ForeignKey("decisions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("idx", sa.Integer(), primary_key=True),
    sa.Column("tier", sa.Integer(), nullable=False),
    sa.Column("model", sa.String(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("confidence", sa.Float()),
    sa.Column("reason", sa.String(32)),
    sa.Column("input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("output_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_read_input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cache_creation_input_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", sa.Float()),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("first_token_ms", sa.Float()),
    sa.Column("stop_reason", sa.String()),
    sa.Column("status", sa.Integer()),
    sa.Column("error", sa.Text()),
    sa.Column("request_id", sa.String()),
    sa.Column("rewrites", sa.JSON(), nullable=False),
    sa.Column("stream_aborted", sa.Boolean(), nullable=False),
    sa.Column("cache_creation_1h_input_tokens", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    sa.Column("web_search_requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("web_fetch_requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
    # The upstream's usage object as it came; NULL when the call reported none.
    sa.Column("reported_usage", sa.JSON(none_as_null=True)),
    # The usage (and cost) is tiered's estimate: the stream ended before its final usage.
    sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
    # 0005: a triage attempt's calibrated confidence and the threshold it was judged against
    sa.Column("score", sa.Float()),
    sa.Column("threshold", sa.Float()),
)

virtual_keys = sa.Table(
    "virtual_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    # HMAC-SHA256 of the secret under the server pepper, hex; the secret itself is never stored.
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("is_admin", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime()),
    sa.Column("rate_limit_rpm", sa.Integer()),
    sa.Column("budget_usd", sa.Float()),
    sa.Column("budget_period", sa.String(16)),
    sa.Index(None, "secret_hash", unique=True),
)

audit_samples = sa.Table(
    "audit_samples",
    metadata,
    sa.Column(
        "decision_id",
        sa.String(64),
        sa.ForeignKey("decisions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("route", sa.String(), nullable=False),
    sa.Column("sampler", sa.String(32), nullable=False),
    # Inclusion probability, so that estimates over samples can be re-weighted (Horvitz-Thompson).
    sa.Column("probability", sa.Float()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index(None, "route", "created_at"),
    sa.Index(None, "status"),
)

grades = sa.Table(
    "grades",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "decision_id",
        sa.String(64),
        sa.ForeignKey("decisions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("grader_kind", sa.String(16), nullable=False),
    sa.Column("grader", sa.String()),
    sa.Column("reason", sa.Text()),
    sa.Column("weight", sa.Float(), nullable=False),
    sa.Column("cost_usd", sa.Float()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index(None, "decision_id"),
    sa.Index(None, "created_at"),
)

threshold_changes = sa.Table(
    "threshold_changes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("route", sa.String(), nullable=False),
    sa.Column("tier", sa.Integer()),
    sa.Column("old_threshold", sa.Float()),
    sa.Column("new_threshold", sa.Float(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("slice", sa.String(64)),  # 0009: a slice's own threshold (tiered.quality.thresholds); NULL: the route's
    sa.Index(None, "route", "created_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("route", sa.String()),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime()),
    sa.Index(None, "created_at"),
    sa.Index(None, "route", "created_at"),
)

# 0006: shadow mode (tiered.quality.shadow): the first tier's triage of a request the final tier answered, and
# the judge's verdict on it against the final tier's answer. No foreign key: the row may be written before its
# decision's (the store's writer batches them), and a projection needs only these columns.
shadow_results = sa.Table(
    "shadow_results",
    metadata,
    sa.Column("decision_id", sa.String(64), primary_key=True),
    sa.Column("route", sa.String(), nullable=False),
    sa.Column("slice", sa.String(64)),
    sa.Column("model", sa.String(), nullable=False),  # the first tier's
    sa.Column("confidence", sa.Float()),  # as compared with a threshold (calibrated when the tier has a map)
    sa.Column("problem", sa.String(32)),  # why the triage could not ship at any threshold (an escalation reason)
    sa.Column("verdict", sa.String(16)),  # the judge's on the triage answer; NULL when there was none
    sa.Column("triage_cost_usd", sa.Float()),
    sa.Column("final_cost_usd", sa.Float()),  # what the final tier's answer cost
    sa.Column("judge_cost_usd", sa.Float()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # 0009: ``shadow`` (a shadow route's background triage) or ``explore`` (a live route's escalated triage read
    # to its end, tiered.quality.explore), and the row's inverse-propensity weight (1 / explore_rate)
    sa.Column("source", sa.String(16), nullable=False, server_default="shadow"),
    sa.Column("weight", sa.Float(), nullable=False, server_default="1.0"),
    sa.Index(None, "route", "created_at"),
    sa.Index(None, "created_at"),
)

# 0007: every ``learned`` confidence model trained (``tiered confidence train``), promoted or not, with its
# held-out report; ``id`` is the version number.
confidence_versions = sa.Table(
    "confidence_versions",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("route", sa.String(), nullable=False),
    sa.Column("tier", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("promoted", sa.Boolean(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("model", sa.JSON(), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index(None, "route", "tier", "created_at"),
)
