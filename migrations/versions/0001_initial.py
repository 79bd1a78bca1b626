"""Initial ledger: runs, snapshots, transfers, attempts, and the hash-chained journal.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
FINAL_STATUSES = "('confirmed', 'failed', 'skipped', 'dry_run', 'manual')"
# Money as this revision created it, frozen here so that later changes to the model's
# ExactDecimal (0002: unconstrained NUMERIC) do not rewrite history: text on SQLite,
# NUMERIC(38, 18) on PostgreSQL.
Money = sa.String(64).with_variant(sa.Numeric(38, 18, asdecimal=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("config_digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("read_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("free", Money, nullable=False),
        sa.Column("used", Money, nullable=False),
        sa.Column("balance", Money, nullable=False),
        sa.Column("unrealized_pnl", Money, nullable=False),
        sa.Column("transferable", Money, nullable=False),
    )
    op.create_table(
        "position_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("read_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("contracts", Money, nullable=False),
        sa.Column("contract_size", Money, nullable=False),
        sa.Column("notional", Money, nullable=False),
        sa.Column("entry_price", Money, nullable=True),
        sa.Column("mark_price", Money, nullable=True),
        sa.Column("unrealized_pnl", Money, nullable=False),
        sa.Column("initial_margin", Money, nullable=True),
        sa.Column("maintenance_margin", Money, nullable=True),
        sa.Column("liquidation_price", Money, nullable=True),
    )
    op.create_table(
        "funding_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("read_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("rate", Money, nullable=True),
        sa.Column("mark_price", Money, nullable=True),
        sa.Column("next_funding_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("hedges", sa.String(256), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("from_account", sa.String(32), nullable=False),
        sa.Column("to_account", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("planned_amount", Money, nullable=False),
        sa.Column("amount", Money, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exchange_id", sa.String(128), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("replaces_id", sa.Integer, sa.ForeignKey("transfers.id"), nullable=True),
        sa.UniqueConstraint("venue", "exchange_id", name="uq_transfers_venue_exchange_id"),
    )
    op.create_index("ix_transfers_venue_status", "transfers", ["venue", "status"])
    op.create_index("ix_transfers_created_at", "transfers", ["created_at"])
    op.create_table(
        "transfer_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "transfer_id", sa.Integer, sa.ForeignKey("transfers.id"), nullable=False, index=True
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("amount", Money, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("exchange_id", sa.String(128), nullable=True),
    )
    op.create_table(
        "journal",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(f"INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')")
    _create_guards()


def downgrade() -> None:
    _drop_guards()
    for table in (
        "journal_head",
        "journal",
        "transfer_attempts",
        "transfers",
        "funding_snapshots",
        "position_snapshots",
        "balance_snapshots",
        "runs",
    ):
        op.drop_table(table)


def _create_guards() -> None:
    """Database-level audit rules: final transfers and journal entries never change or vanish."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER transfers_final_immutable BEFORE UPDATE ON transfers "
            f"WHEN OLD.status IN {FINAL_STATUSES} "
            "BEGIN SELECT RAISE(ABORT, 'ledger: final transfer rows are never updated'); END"
        )
        for table in ("transfers", "transfer_attempts", "journal"):
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger: {table} rows are never deleted'); END"
            )
        op.execute(
            "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal "
            "BEGIN SELECT RAISE(ABORT, 'ledger: journal rows are never updated'); END"
        )
    elif dialect == "postgresql":
        # the same messages as SQLite's, as integrity violations (SQLSTATE 23000)
        op.execute(
            "CREATE FUNCTION ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '%', TG_ARGV[0] "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER transfers_final_immutable BEFORE UPDATE ON transfers FOR EACH ROW "
            f"WHEN (OLD.status IN {FINAL_STATUSES}) "
            "EXECUTE FUNCTION ledger_refuse('ledger: final transfer rows are never updated')"
        )
        for table in ("transfers", "transfer_attempts", "journal"):
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION ledger_refuse('ledger: {table} rows are never deleted')"
            )
        op.execute(
            "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal FOR EACH ROW "
            "EXECUTE FUNCTION ledger_refuse('ledger: journal rows are never updated')"
        )


def _drop_guards() -> None:
    dialect = op.get_bind().dialect.name
    triggers = [
        ("transfers_final_immutable", "transfers"),
        ("transfers_no_delete", "transfers"),
        ("transfer_attempts_no_delete", "transfer_attempts"),
        ("journal_no_delete", "journal"),
        ("journal_no_update", "journal"),
    ]
    if dialect == "sqlite":
        for name, _ in triggers:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for name, table in triggers:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse()")
