"""Margin legs: the second step of an isolated hedge's move, and the move that ties both.

An isolated hedge is topped up in two steps (spot -> futures wallet, then add margin to the
position) and returned in two (reduce the position's margin, then futures -> spot). The wallet
transfer is an ordinary `transfers` row (its intent, attempts, outcome); this revision adds:

- `margin_moves`: one row per planned two-leg move (append-only: never updated or deleted);
  the transfer leg names it in its `figures` (`margin_move`);
- `margin_legs`: the margin change (add or reduce) with its own intent and outcome; its status
  may change only while `pending` or `unknown`, as a transfer's, and it is never deleted;
- `margin_leg_attempts`: every call for a margin leg (append-only).

New tables only; earlier rows and triggers are untouched.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import ExactDecimal, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FINAL_STATUSES = "('confirmed', 'failed', 'skipped', 'dry_run', 'manual')"
APPEND_ONLY = ("margin_moves", "margin_leg_attempts")


def upgrade() -> None:
    op.create_table(
        "margin_moves",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("hedges", sa.String(256), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("futures_account", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),  # top_up | return
        sa.Column("planned_amount", ExactDecimal, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    op.create_table(
        "margin_legs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "move_id", sa.Integer, sa.ForeignKey("margin_moves.id"), nullable=False, index=True
        ),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("add", sa.Boolean, nullable=False),
        sa.Column("amount", ExactDecimal, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settled_by", sa.String(16), nullable=True),  # answer | history
        sa.Column("venue_at", UtcDateTime, nullable=True),  # the history entry's time
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Index("ix_margin_legs_status", "status"),
    )
    op.create_table(
        "margin_leg_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "leg_id", sa.Integer, sa.ForeignKey("margin_legs.id"), nullable=False, index=True
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("amount", ExactDecimal, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("venue_clock_offset_ms", sa.BigInteger, nullable=True),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER margin_legs_final_immutable BEFORE UPDATE ON margin_legs "
            f"WHEN OLD.status IN {FINAL_STATUSES} "
            "BEGIN SELECT RAISE(ABORT, 'ledger: final margin_legs rows are never updated'); END"
        )
        op.execute(
            "CREATE TRIGGER margin_legs_no_delete BEFORE DELETE ON margin_legs "
            "BEGIN SELECT RAISE(ABORT, 'ledger: margin_legs rows are never deleted'); END"
        )
        for table in APPEND_ONLY:
            for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger: {table} rows are never {verb}'); END"
                )
    elif dialect == "postgresql":
        # ledger_refuse() is 0001's: the same messages as SQLite's, SQLSTATE 23000
        op.execute(
            "CREATE TRIGGER margin_legs_final_immutable BEFORE UPDATE ON margin_legs "
            f"FOR EACH ROW WHEN (OLD.status IN {FINAL_STATUSES}) "
            "EXECUTE FUNCTION ledger_refuse('ledger: final margin_legs rows are never updated')"
        )
        op.execute(
            "CREATE TRIGGER margin_legs_no_delete BEFORE DELETE ON margin_legs FOR EACH ROW "
            "EXECUTE FUNCTION ledger_refuse('ledger: margin_legs rows are never deleted')"
        )
        for table in APPEND_ONLY:
            for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION "
                    f"ledger_refuse('ledger: {table} rows are never {verb}')"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    triggers = [
        ("margin_legs_final_immutable", "margin_legs"),
        ("margin_legs_no_delete", "margin_legs"),
    ]
    triggers += [(f"{t}_no_{e}", t) for t in APPEND_ONLY for e in ("update", "delete")]
    for name, table in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    for table in ("margin_leg_attempts", "margin_legs", "margin_moves"):
        op.drop_table(table)
