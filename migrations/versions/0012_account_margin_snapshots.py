"""A unified account's own margin figure in snapshots (issue 27).

Hedges on a unified account (Bybit's UTA, OKX's trading account) are judged by the account's
own figure (`accountMMRate`, `mgnRatio`), not by a futures wallet over its short notional. `bot
status` and `bot report` judge the last snapshot with the same function as the plan
(`bot.policy.margin`), so a read of such an account keeps its figure:

- `account_margin_snapshots`: one row per venue read that reported one: the account, the
  figure's name and value, where it liquidates, which way is safer, and the equity and
  requirement (USD) it is made of. Journaled (entity `account_margin`).

A new table only; earlier rows are unchanged.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import ExactDecimal, UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_margin_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("read_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("figure", sa.String(32), nullable=False),
        sa.Column("value", ExactDecimal, nullable=False),
        sa.Column("liquidation_at", ExactDecimal, nullable=False),
        sa.Column("higher_is_safer", sa.Boolean, nullable=False),
        sa.Column("equity", ExactDecimal, nullable=False),
        sa.Column("requirement", ExactDecimal, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_margin_snapshots")
