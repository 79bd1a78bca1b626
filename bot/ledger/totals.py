"""Running totals of transfers per UTC day, venue, asset, hedges, direction, status (0006), so
that `bot ledger summary` answers from a few thousand rows instead of scanning every transfer.

They count final transfers only, and are folded in off the hot path (0011): a transfer's own
writes (intent, sizing, attempt and outcome) never touch them, so they cost the send nothing.
`fold` (at the end of each run, `Ledger.finish_run`) adds every transfer that became final
since the last fold, once: final rows never change again, so a folded row is counted for
good. The mark (`transfer_totals_mark`) says which rows are in: those up to `through_id` but
the `open_ids` that were still pending or unknown then. A reader adds the rows not yet folded
(`unfolded`: a few, counted from the transfers themselves). They are derived data, not
evidence: `bot ledger verify` recomputes them from the folded transfers and reports a bucket
that differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, false, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.ledger.pages import pages
from bot.ledger.tables import Transfer, TransferTotal, TransferTotalsMark
from bot.model import TransferStatus


@dataclass(frozen=True)
class Bucket:
    day: str
    venue: str
    asset: str
    hedges: str
    from_account: str
    to_account: str
    status: str
    dry_run: bool


def day_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def bucket_of(row: Any, status: str | None = None) -> Bucket:
    return Bucket(
        day=day_of(row.created_at),
        venue=row.venue,
        asset=row.asset,
        hedges=row.hedges,
        from_account=row.from_account,
        to_account=row.to_account,
        status=status if status is not None else row.status,
        dry_run=bool(row.dry_run),
    )


def held_bucket(total: Any) -> Bucket:
    """The bucket a stored total (a `transfer_totals` row) counts."""
    return Bucket(
        total.day,
        total.venue,
        total.asset,
        total.hedges,
        total.from_account,
        total.to_account,
        total.status,
        bool(total.dry_run),
    )


def bump(session: Session, added: dict[Bucket, list[Any]]) -> None:
    """Add (transfers, amount) to each bucket in the caller's transaction, creating a bucket
    at zero first: the buckets of the days and venues concerned are read in one query under
    their row locks (one query per bucket cost a 20-venue run ~15 ms)."""
    if not added:
        return
    found = session.execute(
        select(TransferTotal)
        .where(
            TransferTotal.day.in_(sorted({b.day for b in added})),
            TransferTotal.venue.in_(sorted({b.venue for b in added})),
        )
        .with_for_update()
    ).scalars()
    held = {held_bucket(total): total for total in found}
    for bucket, (transfers, amount) in added.items():
        total = held.get(bucket)
        if total is None:
            total = TransferTotal(**bucket.__dict__, transfers=0, amount=Decimal(0))
            session.add(total)
        total.transfers += transfers
        total.amount += amount


@dataclass(frozen=True)
class Mark:
    """Which transfers the totals hold: ids up to `through_id`, but `open_ids`."""

    through_id: int
    open_ids: frozenset[int]

    def unfolded(self) -> ColumnElement[bool]:
        """The transfers the totals do not hold yet (a reader counts them itself)."""
        held_out = Transfer.id.in_(sorted(self.open_ids)) if self.open_ids else false()
        return or_(Transfer.id > self.through_id, held_out)

    def folded(self) -> ColumnElement[bool]:
        return ~self.unfolded()


def mark(connection: Connection | Session, *, lock: bool = False) -> Mark:
    query = select(TransferTotalsMark).where(TransferTotalsMark.id == 1)
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:  # a ledger before 0011 (read-only audits do not migrate): nothing folded
        return Mark(0, frozenset())
    found = row[0] if isinstance(connection, Session) else row
    return Mark(found.through_id, frozenset(json.loads(found.open_ids)))


FOLD_COLUMNS = (
    Transfer.id,
    Transfer.created_at,
    Transfer.venue,
    Transfer.asset,
    Transfer.hedges,
    Transfer.from_account,
    Transfer.to_account,
    Transfer.status,
    Transfer.dry_run,
    Transfer.amount,
)


def fold(session: Session) -> int:
    """Add the transfers that became final since the last fold to the totals, in the caller's
    transaction (under the mark's row lock: two writers never fold a row twice); returns how
    many were added."""
    current = mark(session, lock=True)
    rows = session.execute(select(*FOLD_COLUMNS).where(current.unfolded())).all()
    if not rows:
        return 0
    final = [row for row in rows if TransferStatus(row.status).is_final]
    still_open = {row.id for row in rows if not TransferStatus(row.status).is_final}
    bump(session, accumulate(final))
    through = max(current.through_id, max(row.id for row in rows))
    session.execute(
        update(TransferTotalsMark)
        .where(TransferTotalsMark.id == 1)
        .values(through_id=through, open_ids=json.dumps(sorted(still_open)))
    )
    return len(final)


def accumulate(rows: Iterable[Any]) -> dict[Bucket, list[Any]]:
    """The totals of these transfer rows (their current status), exactly."""
    found: dict[Bucket, list[Any]] = {}
    for row in rows:
        slot = found.setdefault(bucket_of(row), [0, Decimal(0)])
        slot[0] += 1
        slot[1] += row.amount or Decimal(0)
    return found


def stored(connection: Connection) -> Iterator[tuple[Bucket, int, Decimal]]:
    for total in connection.execute(select(TransferTotal.__table__)):
        yield held_bucket(total), total.transfers, total.amount


def rebuild(connection: Connection) -> None:
    """Recompute every total from all transfers, whatever their status (0006's backfill; 0011
    replaces it with `refold`)."""
    found = computed(connection)
    connection.execute(TransferTotal.__table__.delete())
    _insert(connection, found)


def refold(connection: Connection) -> None:
    """Recompute the totals from the final transfers and set the mark to match (0011)."""
    found: dict[Bucket, list[Any]] = {}
    open_ids: list[int] = []
    through = 0
    for row in pages(connection, select(*FOLD_COLUMNS), Transfer.id):
        through = max(through, row.id)
        if not TransferStatus(row.status).is_final:
            open_ids.append(row.id)
            continue
        slot = found.setdefault(bucket_of(row), [0, Decimal(0)])
        slot[0] += 1
        slot[1] += row.amount or Decimal(0)
    connection.execute(TransferTotal.__table__.delete())
    _insert(connection, found)
    connection.execute(TransferTotalsMark.__table__.delete())
    connection.execute(
        TransferTotalsMark.__table__.insert(),
        {"id": 1, "through_id": through, "open_ids": json.dumps(open_ids)},
    )


def _insert(connection: Connection, found: dict[Bucket, list[Any]]) -> None:
    values = [
        {**bucket.__dict__, "transfers": n, "amount": amount}
        for bucket, (n, amount) in found.items()
    ]
    if values:
        connection.execute(TransferTotal.__table__.insert(), values)


def differences(connection: Connection) -> list[str]:
    """The buckets whose stored totals differ from the transfers they hold (verify's check)."""
    found = computed(connection, mark(connection))
    problems = []
    for bucket, transfers, amount in stored(connection):
        n, total = found.pop(bucket, (0, Decimal(0)))
        if (n, total) != (transfers, amount):
            problems.append(
                f"transfer_totals: {bucket.day} {bucket.venue} {bucket.asset} {bucket.status} "
                f"says {transfers} transfers of {amount}, the transfers say {n} of {total}"
            )
    for bucket, (n, total) in found.items():
        problems.append(
            f"transfer_totals: {bucket.day} {bucket.venue} {bucket.asset} {bucket.status} is "
            f"missing ({n} transfers of {total})"
        )
    return problems


def computed(connection: Connection, held: Mark | None = None) -> dict[Bucket, list[Any]]:
    """The totals of every transfer (of those the mark holds), read in pages."""
    query = select(*FOLD_COLUMNS)
    if held is not None:
        query = query.where(held.folded())
    return accumulate(pages(connection, query, Transfer.id))
