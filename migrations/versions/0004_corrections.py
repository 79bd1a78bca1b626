"""Corrections: an operator's settlement of a transfer reconciliation could not settle alone.

`corrections` holds one row per operator action on a transfer (today only "assign": the row
is the venue transfer the operator named): who, when, why, the exchange id, the status before
and after, and what the bot checked it against (`note`). It is an audit trail, so it is
append-only: triggers refuse UPDATE and DELETE on both backends, as 0001's do for the
journal. Each correction is also appended to the hash-chained journal (entity "correction").

A new table only: the rows and triggers of earlier revisions are untouched, and a ledger
written before this migration still verifies (it has no corrections to compare).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "transfer_id", sa.Integer, sa.ForeignKey("transfers.id"), nullable=False, index=True
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("exchange_id", sa.String(128), nullable=True),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.Column("new_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")):
            op.execute(
                f"CREATE TRIGGER corrections_no_{event.lower()} BEFORE {event} ON corrections "
                f"BEGIN SELECT RAISE(ABORT, 'ledger: corrections rows are never {verb}'); END"
            )
    elif dialect == "postgresql":
        # ledger_refuse() is 0001's: the same messages as SQLite's, SQLSTATE 23000
        for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")):
            op.execute(
                f"CREATE TRIGGER corrections_no_{event.lower()} BEFORE {event} ON corrections "
                "FOR EACH ROW EXECUTE FUNCTION "
                f"ledger_refuse('ledger: corrections rows are never {verb}')"
            )


def downgrade() -> None:
    on_table = " ON corrections" if op.get_bind().dialect.name == "postgresql" else ""
    for name in ("corrections_no_update", "corrections_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}{on_table}")
    op.drop_table("corrections")
