"""Shadow mode and slices: ``shadow_results``, and the mode and slice of each decision.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08

``shadow_results`` holds, for a share of the requests of a ``mode = "shadow"`` route, the first tier's
triage (its confidence, or why it could not ship) and the judge's verdict on its answer with the final tier's
answer as the reference, with the three costs (see :mod:`tiered.quality.shadow`). ``decisions.mode`` and
``decisions.slice`` are :attr:`tiered.decision.Decision.mode` and ``.slice``; rows written before this
revision are ``live`` without a slice, which is what they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="live"))
        batch.add_column(sa.Column("slice", sa.String(64)))
    op.create_table(
        "shadow_results",
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("slice", sa.String(64)),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("confidence", sa.Float()),
        sa.Column("problem", sa.String(32)),
        sa.Column("verdict", sa.String(16)),
        sa.Column("triage_cost_usd", sa.Float()),
        sa.Column("final_cost_usd", sa.Float()),
        sa.Column("judge_cost_usd", sa.Float()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_shadow_results")),
    )
    op.create_index(op.f("ix_shadow_results_route_created_at"), "shadow_results", ["route", "created_at"])
    op.create_index(op.f("ix_shadow_results_created_at"), "shadow_results", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shadow_results_created_at"), table_name="shadow_results")
    op.drop_index(op.f("ix_shadow_results_route_created_at"), table_name="shadow_results")
    op.drop_table("shadow_results")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("slice")
        batch.drop_column("mode")
