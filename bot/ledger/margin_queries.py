"""Read-only queries over isolated hedges' two-leg moves (0007): their legs, the transfer that
is one of them, and which moves are half done."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.ledger.margin_moves import MarginLegRecord, MarginMoveRecord
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import MarginLeg, MarginLegAttempt, MarginMove, Transfer, TransferAttempt
from bot.ledger.transfers import TransferRecord
from bot.model import TransferStatus

OPEN = (TransferStatus.PENDING.value, TransferStatus.UNKNOWN.value)


#: ids in one IN list: far under SQLite's and PostgreSQL's limits on bound parameters
_IDS_PER_QUERY = 500


@dataclass(frozen=True, kw_only=True)
class MoveLegs:
    """A move with everything recorded for it, in order."""

    move: MarginMoveRecord
    transfers: tuple[TransferRecord, ...]  # the wallet-transfer leg (and its shrunk retries)
    margin_legs: tuple[MarginLegRecord, ...]  # the margin-change leg (and any re-sends)

    @property
    def transfer(self) -> TransferRecord | None:
        return self.transfers[-1] if self.transfers else None

    @property
    def margin_leg(self) -> MarginLegRecord | None:
        return self.margin_legs[-1] if self.margin_legs else None


def moves(
    ledger: LedgerBase,
    *,
    venue: str | None = None,
    dry_run: bool = False,
    skip: Collection[int] = frozenset(),
) -> list[MoveLegs]:
    """Every recorded move (of one venue), oldest first, with its legs; `skip`: the ids of
    moves not wanted (`half_done.open_moves`' settled ones), whose legs are then not read. A
    constant number of queries, however many moves and legs there are."""
    with ledger._sessions() as session:
        ids = select(MarginMove.id).where(MarginMove.dry_run == dry_run)
        if venue is not None:
            ids = ids.where(MarginMove.venue == venue)
        wanted = [move_id for move_id in session.scalars(ids) if move_id not in skip]
        if not wanted:
            return []
        keep = set(wanted)
        rows = [
            row
            for row in session.scalars(
                select(MarginMove).where(MarginMove.id >= min(wanted)).order_by(MarginMove.id)
            )
            if row.id in keep
        ]
        first = rows[0]
        # the transfer legs name their move in their figures: those since the oldest wanted move
        found: list[tuple[int, Transfer]] = []
        for row in session.scalars(
            select(Transfer)
            .where(Transfer.created_at >= first.created_at, Transfer.figures.like("%margin_move%"))
            .order_by(Transfer.id)
        ):
            move_id = json.loads(row.figures).get("margin_move")
            if move_id is not None and int(move_id) in keep:
                found.append((int(move_id), row))
        tried = _counts(session, TransferAttempt.transfer_id, [row.id for _, row in found])
        by_move: dict[int, list[TransferRecord]] = {}
        for move_id, row in found:
            by_move.setdefault(move_id, []).append(TransferRecord.of(row, tried.get(row.id, 0)))
        leg_rows = [
            leg
            for leg in session.scalars(
                select(MarginLeg).where(MarginLeg.move_id >= first.id).order_by(MarginLeg.id)
            )
            if leg.move_id in keep
        ]
        sent = _counts(session, MarginLegAttempt.leg_id, [leg.id for leg in leg_rows])
        legs: dict[int, list[MarginLegRecord]] = {}
        for leg in leg_rows:
            legs.setdefault(leg.move_id, []).append(MarginLegRecord.of(leg, sent.get(leg.id, 0)))
        return [
            MoveLegs(
                move=MarginMoveRecord.of(row),
                transfers=tuple(by_move.get(row.id, ())),
                margin_legs=tuple(legs.get(row.id, ())),
            )
            for row in rows
        ]


def _counts(session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    """How many rows name each of `ids` in `column` (the attempts of transfers or legs): one
    query per page of ids, not one per id."""
    counted: dict[int, int] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        page = ids[start : start + _IDS_PER_QUERY]
        query = select(column, func.count()).where(column.in_(page)).group_by(column)
        counted.update({row_id: count for row_id, count in session.execute(query)})
    return counted


def open_margin_legs(ledger: LedgerBase, venue: str | None = None) -> list[MarginLegRecord]:
    """Margin legs still `pending` or `unknown` (reconciliation settles them)."""
    return [leg for _, leg in open_margin_legs_on_venues(ledger, venue)]


def open_margin_legs_on_venues(
    ledger: LedgerBase, venue: str | None = None
) -> list[tuple[str, MarginLegRecord]]:
    """Open margin legs with the venue each is on (for `bot status`), oldest first."""
    with ledger._sessions() as session:
        query = (
            select(MarginLeg, MarginMove.venue)
            .join(MarginMove, MarginMove.id == MarginLeg.move_id)
            .where(MarginLeg.status.in_(OPEN))
            .order_by(MarginLeg.id)
        )
        if venue is not None:
            query = query.where(MarginMove.venue == venue)
        found = []
        for leg, on in session.execute(query):
            count = session.scalar(select(func.count()).where(MarginLegAttempt.leg_id == leg.id))
            found.append((on, MarginLegRecord.of(leg, count or 0)))
        return found


def margin_leg_offsets(ledger: LedgerBase, leg_id: int) -> list[tuple[int | None, datetime]]:
    """(venue clock offset ms, finished_at) of each attempt of a margin leg, in order."""
    with ledger._sessions() as session:
        return [
            (a.venue_clock_offset_ms, a.finished_at)
            for a in session.scalars(
                select(MarginLegAttempt)
                .where(MarginLegAttempt.leg_id == leg_id)
                .order_by(MarginLegAttempt.number)
            )
        ]


def claimed_margin_times(ledger: LedgerBase, venue: str, symbol: str) -> set[object]:
    """The venue times of history entries that confirmed legs already hold."""
    with ledger._sessions() as session:
        return set(
            session.scalars(
                select(MarginLeg.venue_at)
                .join(MarginMove, MarginMove.id == MarginLeg.move_id)
                .where(
                    MarginMove.venue == venue,
                    MarginLeg.symbol == symbol,
                    MarginLeg.venue_at.is_not(None),
                )
            )
        )
