"""Pool figures in snapshots: what the one margin figure needs to judge a snapshot as a read.

A hedge's margin is judged per pool of collateral (`bot.policy.margin`): a cross pool by the
venue's own cross figures (Binance `crossWalletBalance` and `crossUnPnl`, which leave out every
isolated position's wallet and PnL), an isolated hedge by its position's own wallet and PnL.
`bot status` and `bot report` judge the last snapshot with the same function, so the snapshot
keeps those figures too:

- `balance_snapshots.cross_balance`, `cross_unrealized_pnl`: the venue's cross figures (NULL
  where the venue reports none, and in rows recorded before this revision);
- `position_snapshots.margin_mode`, `isolated_wallet`: as the venue reported them.

Nullable columns only; earlier rows, and their journal bodies, are unchanged (the columns are
in `journal.LATER_COLUMNS`: a NULL is left out of a row's body).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import ExactDecimal

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("balance_snapshots", sa.Column("cross_balance", ExactDecimal, nullable=True))
    op.add_column(
        "balance_snapshots", sa.Column("cross_unrealized_pnl", ExactDecimal, nullable=True)
    )
    op.add_column("position_snapshots", sa.Column("margin_mode", sa.String(16), nullable=True))
    op.add_column("position_snapshots", sa.Column("isolated_wallet", ExactDecimal, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("position_snapshots") as batch:
        batch.drop_column("isolated_wallet")
        batch.drop_column("margin_mode")
    with op.batch_alter_table("balance_snapshots") as batch:
        batch.drop_column("cross_unrealized_pnl")
        batch.drop_column("cross_balance")
