"""Money columns as unconstrained NUMERIC on PostgreSQL, so that no digit is ever rounded.

NUMERIC(38, 18) rounded values past the 18th decimal (an inverse notional, a mark price
divided out, a venue's '438.799142390000018') and refused more than 20 integer digits.
Unconstrained NUMERIC keeps whatever Decimal the bot writes; existing values are kept as they
are (widening the type rewrites nothing). The triggers of 0001 test only `status`, so they
survive the change untouched.

SQLite: nothing to do; money is already exact text there. (A batch alter would rebuild the
tables and drop their triggers.)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# every money column, with whether it is nullable (as 0001 created them)
MONEY_COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "balance_snapshots": (
        ("free", False),
        ("used", False),
        ("balance", False),
        ("unrealized_pnl", False),
        ("transferable", False),
    ),
    "position_snapshots": (
        ("contracts", False),
        ("contract_size", False),
        ("notional", False),
        ("entry_price", True),
        ("mark_price", True),
        ("unrealized_pnl", False),
        ("initial_margin", True),
        ("maintenance_margin", True),
        ("liquidation_price", True),
    ),
    "funding_snapshots": (("rate", True), ("mark_price", True)),
    "transfers": (("planned_amount", False), ("amount", True)),
    "transfer_attempts": (("amount", False),),
}
OLD = sa.Numeric(38, 18, asdecimal=True)
NEW = sa.Numeric(asdecimal=True)


def upgrade() -> None:
    _retype(OLD, NEW)


def downgrade() -> None:
    """Back to NUMERIC(38, 18): rounds to 18 decimals, and fails on a value with more than 20
    integer digits rather than lose it."""
    _retype(NEW, OLD)


def _retype(old: sa.Numeric, new: sa.Numeric) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column, nullable in columns:
            op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
