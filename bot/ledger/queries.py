"""Audit queries on the ledger (the read side behind `bot ledger ...`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from bot.ledger.pages import PAGE
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import Correction, Transfer, TransferAttempt
from bot.ledger.transfers import TransferRecord
from bot.model import TransferStatus

#: how a correction recorded on the operator's word alone (`reconcile --assign --force`) begins
NOT_CHECKED = "not checked against the venue"


class Direction(StrEnum):
    """Which way a transfer moves collateral, as an auditor asks about it."""

    TO_FUTURES = "to_futures"  # spot -> a futures wallet (a top-up)
    TO_SPOT = "to_spot"  # a futures wallet -> spot (a return)


def direction_of(from_account: str, to_account: str) -> str:
    if from_account == "spot":
        return Direction.TO_FUTURES.value
    if to_account == "spot":
        return Direction.TO_SPOT.value
    return "other"


@dataclass(frozen=True, kw_only=True)
class TransferFilter:
    status: TransferStatus | None = None
    venue: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    asset: str | None = None
    hedge: str | None = None
    direction: Direction | None = None
    limit: int | None = None


def filtered(query: Select[Any], where: TransferFilter) -> Select[Any]:
    """`query` over transfers narrowed by the filter (not its limit)."""
    if where.status is not None:
        query = query.where(Transfer.status == where.status.value)
    if where.venue is not None:
        query = query.where(Transfer.venue == where.venue)
    if where.asset is not None:
        query = query.where(Transfer.asset == where.asset)
    if where.since is not None:
        query = query.where(Transfer.created_at >= where.since)
    if where.until is not None:
        query = query.where(Transfer.created_at < where.until)
    if where.hedge is not None:
        query = query.where(hedge_matches(Transfer.hedges, where.hedge))
    if where.direction is Direction.TO_FUTURES:
        query = query.where(Transfer.from_account == "spot")
    elif where.direction is Direction.TO_SPOT:
        query = query.where(and_(Transfer.to_account == "spot", Transfer.from_account != "spot"))
    return query


def hedge_matches(hedges: Any, name: str) -> Any:
    """`hedges` ("a,b") names the hedge `name` as a whole."""
    return or_(
        hedges == name,
        hedges.startswith(f"{name},", autoescape=True),
        hedges.endswith(f",{name}", autoescape=True),
        hedges.contains(f",{name},", autoescape=True),
    )


def _attempt_count_column() -> Any:
    """A correlated count: answered from the (transfer_id) index for each listed row only,
    instead of a GROUP BY over every attempt of the ledger on each call."""
    return (
        select(func.count())
        .where(TransferAttempt.transfer_id == Transfer.id)
        .correlate(Transfer)
        .scalar_subquery()
    )


def list_transfers(ledger: LedgerBase, where: TransferFilter) -> list[TransferRecord]:
    """Transfers matching the filter, oldest first, with their attempt counts."""
    query = filtered(select(Transfer, _attempt_count_column()), where).order_by(Transfer.id)
    if where.limit is not None:
        # the newest `limit` rows, still shown oldest first
        query = query.order_by(None).order_by(Transfer.id.desc()).limit(where.limit)
    with Session(ledger.engine) as session:
        rows = [TransferRecord.of(row, attempts=n) for row, n in session.execute(query)]
    return sorted(rows, key=lambda r: r.id)


def iter_transfer_rows(
    ledger: LedgerBase, where: TransferFilter, *, raw: bool = False
) -> Iterator[Any]:
    """Every matching transfer row (a Core row: its columns and `attempts`), oldest first,
    read in keyset pages: constant memory on any ledger, and no read lock held between
    pages (a running bot writes on between them). `raw`: the values as the database holds
    them, without the column types' conversion (an export writes SQLite's text as it is)."""
    after = 0
    if where.limit is not None:  # the newest `limit`: start where they start
        ids = filtered(select(Transfer.id), where).order_by(Transfer.id.desc()).limit(where.limit)
        with ledger.engine.connect() as connection:
            first = connection.scalar(select(func.min(ids.subquery().c.id)))
        after = (first or 1) - 1
    table_columns: list[Any] = list(Transfer.__table__.c)
    if raw:
        table_columns = [literal_column(f"transfers.{c.name}").label(c.name) for c in table_columns]
    columns = [*table_columns, _attempt_count_column().label("attempts")]
    while True:
        query = filtered(select(*columns), where).where(Transfer.id > after)
        with ledger.engine.connect() as connection:
            rows = connection.execute(query.order_by(Transfer.id).limit(PAGE)).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1].id


def open_transfers(ledger: LedgerBase, venue: str | None = None) -> list[TransferRecord]:
    """Transfers whose outcome is not final yet (pending or unknown)."""
    open_statuses = [TransferStatus.PENDING.value, TransferStatus.UNKNOWN.value]
    query = select(Transfer).where(Transfer.status.in_(open_statuses)).order_by(Transfer.id)
    if venue is not None:
        query = query.where(Transfer.venue == venue)
    with Session(ledger.engine) as session:
        return [TransferRecord.of(row, attempts=0) for row in session.execute(query).scalars()]


def exchange_id_holders(ledger: LedgerBase, venue: str) -> dict[str, int]:
    """Exchange transfer ids that ledger rows of `venue` already hold, with the holding row's id
    (so that a refusal to claim one again can name the holder)."""
    query = select(Transfer.exchange_id, Transfer.id).where(
        Transfer.venue == venue, Transfer.exchange_id.is_not(None)
    )
    with Session(ledger.engine) as session:
        return {exchange_id: row_id for exchange_id, row_id in session.execute(query)}


@dataclass(frozen=True)
class AttemptClock:
    """When an attempt of a transfer started (our clock), and the venue's clock offset then."""

    started_at: datetime
    venue_clock_offset_ms: int | None


def attempt_clocks(ledger: LedgerBase, transfer_id: int) -> list[AttemptClock]:
    """Every call's start and venue clock offset, oldest first (what reconciliation needs to
    place the transfer on the venue's clock); reconciliation's own notes are not calls."""
    query = (
        select(TransferAttempt.started_at, TransferAttempt.venue_clock_offset_ms)
        .where(
            TransferAttempt.transfer_id == transfer_id,
            TransferAttempt.outcome.not_like("reconciled:%"),
        )
        .order_by(TransferAttempt.number)
    )
    with Session(ledger.engine) as session:
        return [AttemptClock(at, offset) for at, offset in session.execute(query)]


def find_transfer(ledger: LedgerBase, transfer_id: int) -> TransferRecord | None:
    """The transfer with this id, or None."""
    with Session(ledger.engine) as session:
        row = session.get(Transfer, transfer_id)
        if row is None:
            return None
        attempts = session.scalar(
            select(func.count()).where(TransferAttempt.transfer_id == transfer_id)
        )
        return TransferRecord.of(row, attempts=attempts or 0)


@dataclass(frozen=True, kw_only=True)
class CorrectionRecord:
    """An operator's correction of a transfer (`bot reconcile --assign`)."""

    id: int
    transfer_id: int
    at: datetime
    operator: str
    reason: str
    action: str
    exchange_id: str | None
    previous_status: str
    new_status: str
    note: str | None


def corrections_of(
    ledger: LedgerBase, transfer_ids: list[int]
) -> dict[int, list[CorrectionRecord]]:
    """The corrections of these transfers, oldest first, by transfer id (absent: none).

    Corrections are rare operator actions, so all are read and filtered here, rather than
    bind one parameter per listed transfer (a long `bot ledger list` would pass SQLite's limit).
    """
    found: dict[int, list[CorrectionRecord]] = {}
    wanted = set(transfer_ids)
    if not wanted:
        return found
    with Session(ledger.engine) as session:
        for row in session.execute(select(Correction).order_by(Correction.id)).scalars():
            if row.transfer_id not in wanted:
                continue
            found.setdefault(row.transfer_id, []).append(
                CorrectionRecord(
                    id=row.id,
                    transfer_id=row.transfer_id,
                    at=row.at,
                    operator=row.operator,
                    reason=row.reason,
                    action=row.action,
                    exchange_id=row.exchange_id,
                    previous_status=row.previous_status,
                    new_status=row.new_status,
                    note=row.note,
                )
            )
    return found
