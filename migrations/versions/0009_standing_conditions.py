"""Standing conditions: a venue halted by a fatal refusal, and nothing to move.

- `venue_halts`: a venue whose transfer or margin call was refused with a fatal answer (a key
  without the transfer permission, an IP not whitelisted: Binance `-2015`). While a row is
  `halted`, nothing new is sent on that venue; reads and the other venues go on. The row holds
  the venue's error (already redacted), its kind and code, what to fix (the venue's hint), and
  `fingerprint`: an HMAC of the venue's config section and API key (see `bot.venues.halts`), so
  that a changed config or key clears it. It ends `cleared` (the fingerprint changed) or `resumed`
  (`bot venue resume`: who and why), and is then final. At most one `halted` row per venue.
- `nothing_to_move`: a top-up or return the plan wants but whose sizing on the state just read
  sends nothing (the source is empty, or the sized amount is under `transfers.min_amount`): one
  `open` row per (venue, asset, from, to), its `count` and `last_seen` updated each cycle that
  still has the condition, instead of a `skipped` transfer row per cycle; `cleared` (final)
  when a later cycle of the venue no longer has it.

Both are journaled on each write (`venue_halt`, `nothing_to_move`); triggers refuse to update a
final row and every delete. New tables only; earlier rows and triggers are untouched.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.ledger.types import ExactDecimal, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (table, the SQL condition under which a row is final)
_FINAL = (
    ("venue_halts", "OLD.state <> 'halted'"),
    ("nothing_to_move", "OLD.state <> 'open'"),
)


def upgrade() -> None:
    op.create_table(
        "venue_halts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("halted_at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("hint", sa.Text, nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("transfer_id", sa.Integer, sa.ForeignKey("transfers.id"), nullable=True),
        sa.Column("margin_leg_id", sa.Integer, sa.ForeignKey("margin_legs.id"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("ended_by", sa.Text, nullable=True),
        sa.Column("end_reason", sa.Text, nullable=True),
    )
    op.create_index(
        "uq_venue_halts_one_halted",
        "venue_halts",
        ["venue"],
        unique=True,
        sqlite_where=sa.text("state = 'halted'"),
        postgresql_where=sa.text("state = 'halted'"),
    )
    op.create_table(
        "nothing_to_move",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("from_account", sa.String(32), nullable=False),
        sa.Column("to_account", sa.String(32), nullable=False),
        sa.Column("hedges", sa.String(256), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("planned_amount", ExactDecimal, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cleared_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "uq_nothing_to_move_one_open",
        "nothing_to_move",
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
    op.drop_table("nothing_to_move")
    op.drop_table("venue_halts")
