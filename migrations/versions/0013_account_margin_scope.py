"""What a unified account's figure covers, where it is not the whole account (issue 27).

In OKX's single-currency margin (Spot and futures mode) there is no account-level `mgnRatio`:
the short is judged by its settle currency's own ratio, and the spot coin is no collateral for
it. `bot status` and `bot report` quote the figure from the snapshot, so the snapshot keeps
that scope beside it, and they say it as the plan does:

- `account_margin_snapshots.scope`: a phrase, NULL where the figure is the whole account's
  (every row before this revision).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_margin_snapshots") as batch:
        batch.add_column(sa.Column("scope", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_margin_snapshots") as batch:
        batch.drop_column("scope")
