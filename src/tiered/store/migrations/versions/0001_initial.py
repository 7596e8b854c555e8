"""Decisions, attempts, virtual keys, and the quality loop's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Migrations are append-only: never edit a released revision, add the next number.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _tokens() -> list[sa.Column[int]]:
    return [
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("answered_by", sa.String()),
        sa.Column("answer_tier", sa.Integer()),
        sa.Column("escalated", sa.Boolean(), nullable=False),
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
        *_tokens(),
        sa.Column("request_text", sa.Text()),
        sa.Column("answer_text", sa.Text()),
        sa.Column("content_reason", sa.String(16)),
        sa.Column("content_expires_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_decisions_route_created_at", "decisions", ["route", "created_at"])
    op.create_index("ix_decisions_key_id_created_at", "decisions", ["key_id", "created_at"])
    op.create_index("ix_decisions_content_expires_at", "decisions", ["content_expires_at"])

    op.create_table(
        "attempts",
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float()),
        sa.Column("reason", sa.String(32)),
        *_tokens(),
        sa.Column("cost_usd", sa.Float()),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("first_token_ms", sa.Float()),
        sa.Column("stop_reason", sa.String()),
        sa.Column("status", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("request_id", sa.String()),
        sa.Column("rewrites", sa.JSON(), nullable=False),
        sa.Column("stream_aborted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", "idx", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_attempts_decision_id_decisions",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "virtual_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("revoked_at", _utc()),
        sa.Column("rate_limit_rpm", sa.Integer()),
        sa.Column("budget_usd", sa.Float()),
        sa.Column("budget_period", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_virtual_keys"),
    )
    op.create_index("ix_virtual_keys_secret_hash", "virtual_keys", ["secret_hash"], unique=True)

    op.create_table(
        "audit_samples",
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("sampler", sa.String(32), nullable=False),
        sa.Column("probability", sa.Float()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_audit_samples"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_audit_samples_decision_id_decisions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_audit_samples_route_created_at", "audit_samples", ["route", "created_at"])
    op.create_index("ix_audit_samples_status", "audit_samples", ["status"])

    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("grader_kind", sa.String(16), nullable=False),
        sa.Column("grader", sa.String()),
        sa.Column("reason", sa.Text()),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float()),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_grades"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_grades_decision_id_decisions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_grades_decision_id", "grades", ["decision_id"])
    op.create_index("ix_grades_created_at", "grades", ["created_at"])

    op.create_table(
        "threshold_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("tier", sa.Integer()),
        sa.Column("old_threshold", sa.Float()),
        sa.Column("new_threshold", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_threshold_changes"),
    )
    op.create_index("ix_threshold_changes_route_created_at", "threshold_changes", ["route", "created_at"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("route", sa.String()),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])
    op.create_index("ix_alerts_route_created_at", "alerts", ["route", "created_at"])


def downgrade() -> None:
    for table in ("alerts", "threshold_changes", "grades", "audit_samples", "virtual_keys", "attempts"):
        op.drop_table(table)
    op.drop_table("decisions")
