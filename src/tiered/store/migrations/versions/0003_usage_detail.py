"""The whole usage of each call: the cache-write TTL split, server-tool counts, the upstream's usage object,
and whether the usage is an estimate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

``cache_creation_1h_input_tokens`` is the part of ``cache_creation_input_tokens`` written with the 1-hour TTL
(billed 2x input, not 1.25x); ``web_search_requests`` and ``web_fetch_requests`` are the Messages API's
``usage.server_tool_use`` counts. On ``attempts``, ``reported_usage`` keeps the ``usage`` object as the upstream
sent it (``NULL`` when it sent none) and ``usage_estimated`` marks a usage tiered estimated (a stream that ended
before its final usage). Rows written before this revision get zeros, ``NULL`` and false: what they recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COUNTS = (
    ("cache_creation_1h_input_tokens", sa.BigInteger()),
    ("web_search_requests", sa.Integer()),
    ("web_fetch_requests", sa.Integer()),
)


def upgrade() -> None:
    for table in ("decisions", "attempts"):
        with op.batch_alter_table(table) as batch:
            for name, kind in _COUNTS:
                batch.add_column(sa.Column(name, kind, nullable=False, server_default=sa.text("0")))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("reported_usage", sa.JSON()))
        batch.add_column(sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("usage_estimated")
        batch.drop_column("reported_usage")
    for table in ("attempts", "decisions"):
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(_COUNTS):
                batch.drop_column(name)
