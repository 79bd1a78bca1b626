"""Running totals of transfers per UTC day, venue, asset, hedges, direction, status (0006), so
that `bot ledger summary` answers from a few thousand rows instead of scanning every transfer.

The writer keeps them in the same transaction as the transfer's own write: +1 (and its
amount) in the bucket of its status when the intent is committed, then -1 from the old
status and +1 to the new one at each status change. They are derived data, not evidence:
`bot ledger verify` recomputes them from the transfers it reads anyway and reports a bucket
that differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bot.ledger.pages import pages
from bot.ledger.tables import Transfer, TransferTotal


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


def bump(session: Session, bucket: Bucket, transfers: int, amount: Decimal) -> None:
    """Add to one bucket in the caller's transaction (creating it at zero first)."""
    total = session.execute(
        select(TransferTotal)
        .where(*(getattr(TransferTotal, k) == v for k, v in bucket.__dict__.items()))
        .with_for_update()
    ).scalar_one_or_none()
    if total is None:
        total = TransferTotal(**bucket.__dict__, transfers=0, amount=Decimal(0))
        session.add(total)
    total.transfers += transfers
    total.amount += amount


def moved(session: Session, row: Transfer, old_status: str | None, new_status: str) -> None:
    """The row entered `new_status` (from `old_status`, None for a new intent)."""
    if old_status == new_status:
        return
    amount = row.amount or Decimal(0)
    if old_status is not None:
        bump(session, bucket_of(row, old_status), -1, -amount)
    bump(session, bucket_of(row, new_status), 1, amount)


def resized(session: Session, row: Transfer, old_amount: Decimal | None) -> None:
    """The row's amount changed in its status (an intent sized from the fresh read)."""
    change = (row.amount or Decimal(0)) - (old_amount or Decimal(0))
    if change:
        bump(session, bucket_of(row), 0, change)


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
        bucket = Bucket(
            total.day,
            total.venue,
            total.asset,
            total.hedges,
            total.from_account,
            total.to_account,
            total.status,
            bool(total.dry_run),
        )
        yield bucket, total.transfers, total.amount


def rebuild(connection: Connection) -> None:
    """Recompute every total from the transfers (the migration's backfill)."""
    found = computed(connection)
    connection.execute(TransferTotal.__table__.delete())
    values = [
        {**bucket.__dict__, "transfers": n, "amount": amount}
        for bucket, (n, amount) in found.items()
    ]
    if values:
        connection.execute(TransferTotal.__table__.insert(), values)


def differences(connection: Connection) -> list[str]:
    """The buckets whose stored totals differ from the transfers (verify's check)."""
    found = computed(connection)
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


def computed(connection: Connection) -> dict[Bucket, list[Any]]:
    """The totals of every transfer, read in pages."""
    columns = [
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
    ]
    return accumulate(pages(connection, select(*columns), Transfer.id))
