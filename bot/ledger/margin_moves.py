"""Isolated hedges' two-leg moves (0007): the move committed before either leg acts (a crash
between the legs is then visible), each margin change's intent, attempts and outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.ledger import journal
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import MarginLeg, MarginLegAttempt, MarginMove
from bot.model import PlannedTransfer, TransferStatus


@dataclass(frozen=True, kw_only=True)
class MarginMoveRecord:
    """A two-leg move of an isolated hedge, detached from the session."""

    id: int
    run_id: int
    created_at: datetime
    venue: str
    hedges: str
    symbol: str
    asset: str
    futures_account: str
    direction: str  # top_up | return
    planned_amount: Decimal
    reason: str
    dry_run: bool

    @classmethod
    def of(cls, row: MarginMove) -> MarginMoveRecord:
        return cls(
            id=row.id,
            run_id=row.run_id,
            created_at=row.created_at,
            venue=row.venue,
            hedges=row.hedges,
            symbol=row.symbol,
            asset=row.asset,
            futures_account=row.futures_account,
            direction=row.direction,
            planned_amount=row.planned_amount,
            reason=row.reason,
            dry_run=row.dry_run,
        )


@dataclass(frozen=True, kw_only=True)
class MarginLegRecord:
    """A margin change (add or reduce) of a move, detached from the session."""

    id: int
    move_id: int
    created_at: datetime
    updated_at: datetime
    symbol: str
    asset: str
    add: bool
    amount: Decimal
    status: TransferStatus
    settled_by: str | None
    venue_at: datetime | None
    error: str | None
    dry_run: bool
    attempts: int

    @classmethod
    def of(cls, row: MarginLeg, attempts: int) -> MarginLegRecord:
        return cls(
            id=row.id,
            move_id=row.move_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            symbol=row.symbol,
            asset=row.asset,
            add=row.add,
            amount=row.amount,
            status=TransferStatus(row.status),
            settled_by=row.settled_by,
            venue_at=row.venue_at,
            error=row.error,
            dry_run=row.dry_run,
            attempts=attempts,
        )


def _margin_attempt_count(session: Session, leg_id: int) -> int:
    return session.scalar(select(func.count()).where(MarginLegAttempt.leg_id == leg_id)) or 0


class MarginMoveRecords(LedgerBase):
    """Writes of isolated hedges' moves, their margin legs and the legs' attempts."""

    def record_margin_move(
        self,
        run_id: int,
        item: PlannedTransfer,
        *,
        symbol: str,
        futures_account: str,
        direction: str,
        dry_run: bool,
    ) -> MarginMoveRecord:
        """Commit the move before either leg acts: a crash between the legs is then visible."""
        now = self._clock()
        with self._transaction(now) as session:
            row = MarginMove(
                run_id=run_id,
                created_at=now,
                venue=item.venue,
                hedges=",".join(item.hedges),
                symbol=symbol,
                asset=item.asset,
                futures_account=futures_account,
                direction=direction,
                planned_amount=item.amount,
                reason=item.reason,
                dry_run=dry_run,
            )
            session.add(row)
            session.flush()
            return MarginMoveRecord.of(row)

    def record_margin_intent(
        self,
        move_id: int,
        *,
        add: bool,
        amount: Decimal,
        inputs: Mapping[str, Any],
        dry_run: bool,
        status: TransferStatus = TransferStatus.PENDING,
        error: str | None = None,
    ) -> MarginLegRecord:
        """Commit a margin leg before the call (or as final when nothing will be sent)."""
        now = self._clock()
        with self._transaction(now) as session:
            move = session.get_one(MarginMove, move_id)
            row = MarginLeg(
                move_id=move_id,
                created_at=now,
                updated_at=now,
                symbol=move.symbol,
                asset=move.asset,
                add=add,
                amount=amount,
                status=status.value,
                error=error,
                inputs=journal.canonical_json(dict(inputs)),
                dry_run=dry_run,
            )
            session.add(row)
            session.flush()
            return MarginLegRecord.of(row, attempts=0)

    def record_margin_attempt(
        self,
        leg_id: int,
        *,
        amount: Decimal,
        outcome: str,
        started_at: datetime,
        status: TransferStatus | None,
        error_kind: str | None = None,
        error: str | None = None,
        venue_clock_offset_ms: int | None = None,
    ) -> MarginLegRecord:
        """One call for a margin leg, and with `status` its outcome, in one commit."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get_one(MarginLeg, leg_id)
            number = _margin_attempt_count(session, leg_id) + 1
            attempt = MarginLegAttempt(
                leg_id=leg_id,
                number=number,
                started_at=started_at,
                finished_at=now,
                amount=amount,
                outcome=outcome,
                error_kind=error_kind,
                error=error,
                venue_clock_offset_ms=venue_clock_offset_ms,
            )
            session.add(attempt)
            if status is not None:
                row.status, row.updated_at = status.value, now
                row.settled_by = "answer" if status is TransferStatus.CONFIRMED else None
                if error is not None:
                    row.error = error
            return MarginLegRecord.of(row, attempts=number)

    def record_margin_outcome(
        self,
        leg_id: int,
        status: TransferStatus,
        *,
        settled_by: str | None = None,
        venue_at: datetime | None = None,
        error: str | None = None,
    ) -> MarginLegRecord:
        """Settle an open margin leg: by reconciliation against the venue's margin history
        (`settled_by="history"`), or as failed by the send loop without another call (a clock
        resync that failed, a stop request)."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get_one(MarginLeg, leg_id)
            row.status, row.updated_at, row.settled_by = status.value, now, settled_by
            row.venue_at = venue_at
            if error is not None:
                row.error = error
            return MarginLegRecord.of(row, attempts=_margin_attempt_count(session, leg_id))
