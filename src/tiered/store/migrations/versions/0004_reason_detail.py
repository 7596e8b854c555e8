"""Why a request skipped triage: the feature and the model that decided it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

``reason_detail`` is :attr:`tiered.decision.Decision.reason_detail`: for the escalation reason ``capability``,
the request's feature that a tier's model does not take (prefill, a context window, a beta header...) and the
tier that answered instead, in words. Rows written before this revision get ``NULL``: they recorded none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("reason_detail", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("reason_detail")
