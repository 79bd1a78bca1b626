"""Audit queries on the ledger (the read side behind `bot ledger ...`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.ledger.store import Ledger, TransferRecord
from bot.ledger.tables import Transfer, TransferAttempt
from bot.model import TransferStatus


@dataclass(frozen=True, kw_only=True)
class TransferFilter:
    status: TransferStatus | None = None
    venue: str | None = None
    since: datetime | None = None
    limit: int | None = None


def list_transfers(ledger: Ledger, where: TransferFilter) -> list[TransferRecord]:
    """Transfers matching the filter, oldest first, with their attempt counts."""
    attempts = (
        select(TransferAttempt.transfer_id, func.count().label("n"))
        .group_by(TransferAttempt.transfer_id)
        .subquery()
    )
    query = select(Transfer, func.coalesce(attempts.c.n, 0)).outerjoin(
        attempts, attempts.c.transfer_id == Transfer.id
    )
    if where.status is not None:
        query = query.where(Transfer.status == where.status.value)
    if where.venue is not None:
        query = query.where(Transfer.venue == where.venue)
    if where.since is not None:
        query = query.where(Transfer.created_at >= where.since)
    query = query.order_by(Transfer.id)
    if where.limit is not None:
        # the newest `limit` rows, still shown oldest first
        query = query.order_by(None).order_by(Transfer.id.desc()).limit(where.limit)
    with Session(ledger.engine) as session:
        rows = [TransferRecord.of(row, attempts=n) for row, n in session.execute(query)]
    return sorted(rows, key=lambda r: r.id)


def open_transfers(ledger: Ledger, venue: str | None = None) -> list[TransferRecord]:
    """Transfers whose outcome is not final yet (pending or unknown)."""
    open_statuses = [TransferStatus.PENDING.value, TransferStatus.UNKNOWN.value]
    query = select(Transfer).where(Transfer.status.in_(open_statuses)).order_by(Transfer.id)
    if venue is not None:
        query = query.where(Transfer.venue == venue)
    with Session(ledger.engine) as session:
        return [TransferRecord.of(row, attempts=0) for row in session.execute(query).scalars()]


def exchange_id_holders(ledger: Ledger, venue: str) -> dict[str, int]:
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


def attempt_clocks(ledger: Ledger, transfer_id: int) -> list[AttemptClock]:
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
