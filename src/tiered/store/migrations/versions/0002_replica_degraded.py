"""Which proxy replica made a decision, and whether it shipped a degraded answer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

``replica`` lets per-key rate limits and budgets count the other replicas' traffic from the store while each
replica counts its own exactly; ``degraded`` marks decisions where the final tier failed and a cheaper tier's
answer shipped (``degrade_to_cheap``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("replica", sa.String(64)))
        batch.add_column(sa.Column("degraded", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("degraded")
        batch.drop_column("replica")
