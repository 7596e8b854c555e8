"""What each triage was judged by: its calibrated score and its threshold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

``attempts.score`` and ``attempts.threshold`` are :attr:`tiered.decision.Attempt.score` and ``threshold``: the
calibrated confidence a triage attempt was compared with (its raw one stays in ``confidence``) and the threshold
in force, for every triage, shipped or escalated. ``decisions.score`` is the deciding triage's score (see
:class:`tiered.decision.Decision`). Rows written before this revision get ``NULL``: they recorded none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("score", sa.Float()))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("score", sa.Float()))
        batch.add_column(sa.Column("threshold", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("threshold")
        batch.drop_column("score")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("score")
