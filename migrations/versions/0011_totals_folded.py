"""One transfer's ledger writes off the running totals (issue 25, "the ledger off the hot
path"):

- `transfer_totals_mark` (one row): which transfers `transfer_totals` holds, every id up to
  `through_id` but `open_ids` (JSON list). The totals now count final transfers only and are
  folded in at the end of each run (`bot.ledger.totals.fold`), not at every status change of
  a transfer; readers (`bot ledger summary`) add the few rows not yet folded from the transfers
  themselves. Backfill: the totals recomputed from the final transfers, the mark set to match.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_totals_mark",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("through_id", sa.Integer, nullable=False),
        sa.Column("open_ids", sa.Text, nullable=False),
    )
    from bot.ledger import totals  # the backfill: the same accumulation the fold keeps

    totals.refold(op.get_bind())


def downgrade() -> None:
    op.drop_table("transfer_totals_mark")
    from bot.ledger import totals  # 0006's totals: every transfer in its current status

    totals.rebuild(op.get_bind())
