"""Has any bot moved money since a moment? The newest row of every table a money move writes.

The margin guard reads a venue before it takes the venue's lock (a poll must never wait for,
or stop, a rebalance). When the read calls for a top-up, it is still the freshest read there
is, unless an actor moved money on it between the read and the lock. Every actor commits an
intent before it sends (invariant 1) and records each attempt before it lets the lock go, so
if no transfer, attempt, margin move, leg or leg attempt was written since the read began, no
bot moved money meanwhile, and the read is the cycle's read: no second read under the lock.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import MarginLeg, MarginLegAttempt, MarginMove, Transfer, TransferAttempt

#: one number per table: the id of its newest row (0: none)
Mark = tuple[int, ...]

_MOVE_TABLES = (Transfer, TransferAttempt, MarginMove, MarginLeg, MarginLegAttempt)


def money_moves_mark(ledger: LedgerBase) -> Mark:
    """The newest id of each table a money move writes, in one statement (primary keys)."""
    query = select(
        *(select(func.coalesce(func.max(t.id), 0)).scalar_subquery() for t in _MOVE_TABLES)
    )
    with ledger.engine.connect() as connection:
        row = connection.execute(query).one()
    return tuple(int(value) for value in row)
