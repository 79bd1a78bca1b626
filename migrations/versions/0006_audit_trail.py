"""The ledger as an audit trail: a keyed chain, funding payments, audit indexes and SQL views.

- `journal.chain`: how each entry's hash was made. NULL is the first release's unkeyed SHA-256
  (every entry written before this revision keeps it and still verifies); the bot now writes
  "hmac-sha256" (keyed with `ledger.hmac_key_env`) or, without a key, "sha256".
- `ix_journal_entity_entity_id_seq`: verify compares each row with its last entry by merging
  two id-ordered streams instead of holding every body in memory.
- `funding_payments`: what each hedge's perpetual earned or paid, once per venue id;
  append-only (triggers refuse UPDATE and DELETE, as 0004's do for corrections).
- `transfer_totals`: running count and amount per UTC day, venue, asset, hedges, accounts and
  status, kept by the writer (`bot.ledger.totals`) and backfilled here, so that
  `ledger summary` reads a few thousand rows, not every transfer.
- The snapshot tables become append-only too (they were only ever inserted into).
- Indexes `(venue, id)`, `(asset, id)`, `(status, id)` on transfers: a filtered
  `ledger list --limit 50` walks the newest ids of the filter instead of sorting all its rows.
- Views for any SQL client: `transfers_daily`, `flows_by_asset`, `funding_income`
  (docs/ledger.md). On SQLite their sums are SQLite's floating point (it has no decimal type);
  the bot's own `ledger summary` sums exactly.

Only `ADD COLUMN`, new tables, indexes, triggers and views: no table is rebuilt, so the
triggers of earlier revisions stay as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Money as of 0002, frozen here: text on SQLite, unconstrained NUMERIC on PostgreSQL.
Money = sa.String(64).with_variant(sa.Numeric(asdecimal=True), "postgresql")

APPEND_ONLY = ("funding_payments", "balance_snapshots", "position_snapshots", "funding_snapshots")
TRANSFER_INDEXES = {
    "ix_transfers_venue_id": ["venue", "id"],
    "ix_transfers_asset_id": ["asset", "id"],
    "ix_transfers_status_id": ["status", "id"],
}
VIEWS = ("transfers_daily", "flows_by_asset", "funding_income")


def upgrade() -> None:
    op.add_column("journal", sa.Column("chain", sa.String(16), nullable=True))
    op.create_index("ix_journal_entity_entity_id_seq", "journal", ["entity", "entity_id", "seq"])
    for name, columns in TRANSFER_INDEXES.items():
        op.create_index(name, "transfers", columns)
    op.create_table(
        "funding_payments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("hedge", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("exchange_id", sa.String(128), nullable=False),
        sa.UniqueConstraint("venue", "exchange_id", name="uq_funding_payments_venue_exchange_id"),
    )
    op.create_index("ix_funding_payments_venue_at", "funding_payments", ["venue", "at"])
    op.create_index("ix_funding_payments_at", "funding_payments", ["at"])
    op.create_table(
        "transfer_totals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("hedges", sa.String(256), nullable=False),
        sa.Column("from_account", sa.String(32), nullable=False),
        sa.Column("to_account", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("transfers", sa.Integer, nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.UniqueConstraint(
            "day",
            "venue",
            "asset",
            "hedges",
            "from_account",
            "to_account",
            "status",
            "dry_run",
            name="uq_transfer_totals_bucket",
        ),
    )
    from bot.ledger import totals  # the backfill: the same accumulation the writer keeps

    totals.rebuild(op.get_bind())
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")):
            message = f"ledger: {table} rows are never {verb}"
            if dialect == "sqlite":
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
            elif dialect == "postgresql":  # ledger_refuse() is 0001's
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse('{message}')"
                )
    for statement in view_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in APPEND_ONLY:
        on_table = f" ON {table}" if dialect == "postgresql" else ""
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}{on_table}")
    op.drop_table("transfer_totals")
    op.drop_table("funding_payments")
    for name in TRANSFER_INDEXES:
        op.drop_index(name, table_name="transfers")
    op.drop_index("ix_journal_entity_entity_id_seq", table_name="journal")
    op.execute("ALTER TABLE journal DROP COLUMN chain")


def view_statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements, in this backend's dialect for days and exact sums."""
    if dialect == "postgresql":
        day = "(({col}) AT TIME ZONE 'UTC')::date"
        money = "{col}"
    else:
        day = "date({col})"
        money = "CAST({col} AS REAL)"
    direction = (
        "CASE WHEN from_account = 'spot' THEN 'to_futures' "
        "WHEN to_account = 'spot' THEN 'to_spot' ELSE 'other' END"
    )
    return [
        "CREATE VIEW transfers_daily AS SELECT "
        f"{day.format(col='created_at')} AS day, venue, asset, {direction} AS direction, "
        f"status, count(*) AS transfers, sum({money.format(col='amount')}) AS amount "
        "FROM transfers WHERE NOT dry_run "
        f"GROUP BY {day.format(col='created_at')}, venue, asset, {direction}, status",
        "CREATE VIEW flows_by_asset AS SELECT venue, asset, count(*) AS confirmed, "
        f"sum(CASE WHEN from_account = 'spot' THEN {money.format(col='amount')} ELSE 0 END) "
        "AS to_futures, "
        f"sum(CASE WHEN to_account = 'spot' THEN {money.format(col='amount')} ELSE 0 END) "
        "AS to_spot, "
        f"sum(CASE WHEN from_account = 'spot' THEN {money.format(col='amount')} "
        f"WHEN to_account = 'spot' THEN -{money.format(col='amount')} ELSE 0 END) "
        "AS net_to_futures "
        "FROM transfers WHERE status = 'confirmed' AND NOT dry_run GROUP BY venue, asset",
        "CREATE VIEW funding_income AS SELECT "
        f"{day.format(col='at')} AS day, venue, hedge, symbol, asset, count(*) AS payments, "
        f"sum({money.format(col='amount')}) AS income "
        f"FROM funding_payments GROUP BY {day.format(col='at')}, venue, hedge, symbol, asset",
    ]
