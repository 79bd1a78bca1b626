"""The evidence reconciliation needs: each intent's amount tag, each attempt's venue clock.

- `transfers.amount_tag`: what was subtracted from the sized amount to make it identifiable in
  a venue's history where the venue takes no client id (NULL: untagged).
- `transfer_attempts.venue_clock_offset_ms`: the venue's clock minus ours when the attempt was
  made, so that history timestamps (the venue's clock) can be compared with ours.

Both are added nullable with `ADD COLUMN`, which on SQLite keeps the tables and their triggers.
Rows written before keep NULL, and the journal leaves a NULL in these columns out of a row's
body, so a ledger written before this migration still verifies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Money as of 0002, frozen here: text on SQLite, unconstrained NUMERIC on PostgreSQL.
Money = sa.String(64).with_variant(sa.Numeric(asdecimal=True), "postgresql")


def upgrade() -> None:
    op.add_column("transfers", sa.Column("amount_tag", Money, nullable=True))
    op.add_column(
        "transfer_attempts", sa.Column("venue_clock_offset_ms", sa.BigInteger(), nullable=True)
    )


def downgrade() -> None:
    # DROP COLUMN itself (SQLite 3.35+, PostgreSQL): a batch rebuild would drop the triggers
    op.execute("ALTER TABLE transfer_attempts DROP COLUMN venue_clock_offset_ms")
    op.execute("ALTER TABLE transfers DROP COLUMN amount_tag")
