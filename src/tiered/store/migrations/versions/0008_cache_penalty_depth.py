"""The economics on the record: each decision's cache penalty and conversation depth.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

``decisions.cache_penalty_usd`` is :attr:`tiered.decision.Decision.cache_penalty_usd` (what the cascade's cold
final-tier prompt cache cost over the all-final-tier path) and ``decisions.depth`` its ``depth`` (the
request's user turns). Rows written before this revision have neither: unknown, which is what they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("cache_penalty_usd", sa.Float()))
        batch.add_column(sa.Column("depth", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("depth")
        batch.drop_column("cache_penalty_usd")
