"""Exploration in live mode (``shadow_results.source`` and ``.weight``) and per-slice thresholds
(``threshold_changes.slice``).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-08

A live route with ``explore_rate`` reads some escalated triages to their end and records them in
``shadow_results`` (see :mod:`tiered.quality.explore`) with ``source = 'explore'`` and the inverse-propensity
weight ``1 / explore_rate``. Rows written before this revision are shadow rows of weight 1, which they were.
A threshold change with a ``slice`` is that slice's own threshold (:mod:`tiered.quality.thresholds`); older
rows are the route's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shadow_results") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="shadow"))
        batch.add_column(sa.Column("weight", sa.Float(), nullable=False, server_default="1.0"))
    with op.batch_alter_table("threshold_changes") as batch:
        batch.add_column(sa.Column("slice", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("threshold_changes") as batch:
        batch.drop_column("slice")
    with op.batch_alter_table("shadow_results") as batch:
        batch.drop_column("weight")
        batch.drop_column("source")
