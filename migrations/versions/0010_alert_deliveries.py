"""Alert delivery: each attempt recorded, a claim per transition, severity, a count.

- `alert_deliveries`: one row per delivery attempt of an alert transition on one channel
  (`alert_id`, `key`, `kind` alert/reminder/resolved/notice, `at`, `channel` the apprise scheme
  only, never the URL, `severity`, `outcome` delivered/failed/timeout/refused, `detail`
  redacted). Append-only (triggers refuse UPDATE and DELETE), journaled (`alert_delivery`).
- `alerts` gains nullable columns (left out of a row's journal body while NULL, so rows
  journaled before 0010 still verify): `severity` (failure/warning/info), `occurrences` (how
  many times a counted condition, a failed transfer of one kind, happened while it fired),
  `attempts` and `last_attempt_at` (failed deliveries since the last delivered message, for the
  retry backoff), `claim` and `claimed_at` (the writer that is delivering one transition of the
  row now: taken under the row lock before the send, so two processes sharing a PostgreSQL
  ledger never both send one transition; a claim older than its lease is abandoned).

The alerts table keeps its 0005 triggers (a row is final once it is not `firing`): adding a
column leaves them in place on both backends.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_NEW_ALERT_COLUMNS = (
    ("severity", sa.String(16)),
    ("occurrences", sa.Integer),
    ("attempts", sa.Integer),
    ("last_attempt_at", UtcDateTime),
    ("claim", sa.String(128)),
    ("claimed_at", UtcDateTime),
)


def upgrade() -> None:
    for name, kind in _NEW_ALERT_COLUMNS:
        op.add_column("alerts", sa.Column(name, kind, nullable=True))
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_alert_deliveries_alert", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_at", "alert_deliveries", ["at"])
    table = "alert_deliveries"
    if op.get_bind().dialect.name == "sqlite":
        for event, name in (("UPDATE", "no_update"), ("DELETE", "no_delete")):
            op.execute(
                f"CREATE TRIGGER {table}_{name} BEFORE {event} ON {table} BEGIN SELECT "
                f"RAISE(ABORT, 'ledger: {table} rows are never {event.lower()}d'); END"
            )
    else:
        # ledger_refuse() is 0001's: the same messages as SQLite's, SQLSTATE 23000
        for event, name in (("UPDATE", "no_update"), ("DELETE", "no_delete")):
            op.execute(
                f"CREATE TRIGGER {table}_{name} BEFORE {event} ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION ledger_refuse('ledger: {table} rows are never "
                f"{event.lower()}d')"
            )


def downgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    for name in ("alert_deliveries_no_update", "alert_deliveries_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}{' ON alert_deliveries' if on_postgres else ''}")
    op.drop_table("alert_deliveries")
    for name, _ in reversed(_NEW_ALERT_COLUMNS):  # ALTER TABLE DROP COLUMN: no rebuild, the
        op.drop_column("alerts", name)  # 0005 triggers stay (SQLite 3.35+)
