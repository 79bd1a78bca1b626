"""A hand on the switch: hedges and venues paused by a person (issue 29).

- `pauses`: a hedge or a whole venue (`scope`, `name`) a person paused, with who (`paused_by`),
  why (`reason`), when, and until when (`until`, NULL: until resumed). While a row is `paused`
  and its `until` has not passed, the hedge (every hedge of the venue) is read and reported but
  never moved, by the rebalance or the guard. It ends `resumed` (`bot hedge|venue resume`: who
  and why) or `expired` (its `until` passed; written when the next pause of that name is made),
  and is then final. At most one `paused` row per (scope, name).

Journaled on each write (`pause`); triggers refuse to update a final row and every delete, as
for the other standing conditions (0009). A new table only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "pauses"
FINAL = "OLD.state <> 'paused'"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("paused_by", sa.String(64), nullable=False),
        sa.Column("paused_at", UtcDateTime, nullable=False),
        sa.Column("until", UtcDateTime, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("ended_by", sa.String(64), nullable=True),
        sa.Column("end_reason", sa.Text, nullable=True),
    )
    op.create_index(
        "uq_pauses_one_paused",
        TABLE,
        ["scope", "name"],
        unique=True,
        sqlite_where=sa.text("state = 'paused'"),
        postgresql_where=sa.text("state = 'paused'"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE TRIGGER {TABLE}_final_immutable BEFORE UPDATE ON {TABLE} WHEN {FINAL} "
            f"BEGIN SELECT RAISE(ABORT, 'ledger: final {TABLE} rows are never updated'); END"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'ledger: {TABLE} rows are never deleted'); END"
        )
    elif dialect == "postgresql":
        # ledger_refuse() is 0001's: the same messages as SQLite's, SQLSTATE 23000
        op.execute(
            f"CREATE TRIGGER {TABLE}_final_immutable BEFORE UPDATE ON {TABLE} FOR EACH ROW "
            f"WHEN ({FINAL}) EXECUTE FUNCTION "
            f"ledger_refuse('ledger: final {TABLE} rows are never updated')"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} FOR EACH ROW "
            f"EXECUTE FUNCTION ledger_refuse('ledger: {TABLE} rows are never deleted')"
        )


def downgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    for name in (f"{TABLE}_final_immutable", f"{TABLE}_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}{' ON ' + TABLE if on_postgres else ''}")
    op.drop_table(TABLE)
