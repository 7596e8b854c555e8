"""Every learned confidence model trained, promoted or not, with its held-out report.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-08

``tiered confidence train`` records one row per version (:mod:`tiered.store.confidence_versions`): the route
and tier it scores, the model as plain numbers, its held-out metrics against the signal in force and whether
the promotion rule passed it. ``id`` is the version number a route pins with ``confidence_version``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "confidence_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_confidence_versions"),
    )
    op.create_index(
        "ix_confidence_versions_route_tier_created_at", "confidence_versions", ["route", "tier", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_confidence_versions_route_tier_created_at", table_name="confidence_versions")
    op.drop_table("confidence_versions")
