"""Unattended operation: job runs, alert conditions, standing manual instructions.

`job_runs` holds one row per execution of a `bot run` job (rebalance, snapshot, reconcile,
report, guard): when it was scheduled, when it ran, whether it ran late (after a suspend), its
outcome and error, and the cycle's `runs` row where there is one. A missed run is a row of its
own (status `missed`). A row is final once it has an outcome: triggers refuse to change it.

`alerts` holds one row per firing of a condition (`key`, such as `margin:eth`): its message,
when it was first and last seen, how many messages went out. When the condition clears the row
becomes `resolved` and is final; a condition that fires again gets a new row. A `notice` (a
one-off message: a failed transfer, the daily report) is final when written. At most one row of
a key is `firing` (a partial unique index).

`manual_instructions` is the standing instruction to move funds by hand on a venue with no
transfer API: one open row per (venue, asset, from, to), updated with the latest amount each
cycle rather than a new row every cycle; `cleared` when no longer needed, and then final.

New tables only; earlier rows, triggers and the journal are untouched.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import ExactDecimal, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, the SQL condition under which a row is final)
_FINAL = (
    ("job_runs", "OLD.status <> 'running'"),
    ("alerts", "OLD.state <> 'firing'"),
    ("manual_instructions", "OLD.state <> 'open'"),
)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scheduled_at", UtcDateTime, nullable=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
    )
    op.create_index("ix_job_runs_kind_started", "job_runs", ["kind", "started_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.Column("sent_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_sent_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_alerts_key", "alerts", ["key"])
    op.create_index(
        "uq_alerts_one_firing",
        "alerts",
        ["key"],
        unique=True,
        sqlite_where=sa.text("state = 'firing'"),
        postgresql_where=sa.text("state = 'firing'"),
    )
    op.create_table(
        "manual_instructions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("from_account", sa.String(32), nullable=False),
        sa.Column("to_account", sa.String(32), nullable=False),
        sa.Column("amount", ExactDecimal, nullable=False),
        sa.Column("hedges", sa.String(256), nullable=False),
        sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfers.id"), nullable=True),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cleared_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "uq_manual_one_open",
        "manual_instructions",
        ["venue", "asset", "from_account", "to_account"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    dialect = op.get_bind().dialect.name
    for table, final in _FINAL:
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {table}_final_immutable BEFORE UPDATE ON {table} WHEN {final} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger: final {table} rows are never updated'); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger: {table} rows are never deleted'); END"
            )
        elif dialect == "postgresql":
            # ledger_refuse() is 0001's: the same messages as SQLite's, SQLSTATE 23000
            op.execute(
                f"CREATE TRIGGER {table}_final_immutable BEFORE UPDATE ON {table} FOR EACH ROW "
                f"WHEN ({final}) EXECUTE FUNCTION "
                f"ledger_refuse('ledger: final {table} rows are never updated')"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION ledger_refuse('ledger: {table} rows are never deleted')"
            )


def downgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    for table, _ in _FINAL:
        for name in (f"{table}_final_immutable", f"{table}_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}{' ON ' + table if on_postgres else ''}")
    op.drop_table("manual_instructions")
    op.drop_table("alerts")
    op.drop_table("job_runs")
