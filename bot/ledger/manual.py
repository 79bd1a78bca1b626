"""Standing manual instructions (0005): a move the bot cannot make itself, for a person to make;
one row while it stands, updated in place, final once cleared."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from bot.ledger.by_move import MoveKey, clear_open, move_key, open_or_new
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import ManualInstruction

ManualKey = MoveKey


@dataclass(frozen=True, kw_only=True)
class ManualRecord:
    id: int
    venue: str
    asset: str
    from_account: str
    to_account: str
    amount: Decimal
    hedges: str
    transfer_id: int | None
    first_seen: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ManualInstruction) -> ManualRecord:
        return cls(
            id=row.id,
            venue=row.venue,
            asset=row.asset,
            from_account=row.from_account,
            to_account=row.to_account,
            amount=row.amount,
            hedges=row.hedges,
            transfer_id=row.transfer_id,
            first_seen=row.first_seen,
            updated_at=row.updated_at,
        )

    @property
    def key(self) -> ManualKey:
        return move_key(self)


class ManualRecords(LedgerBase):
    """Writes and reads of manual instructions."""

    def open_manual_instructions(self) -> list[ManualRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(ManualInstruction)
                .where(ManualInstruction.state == "open")
                .order_by(ManualInstruction.id)
            )
            return [ManualRecord.of(row) for row in rows]

    def stand_manual_instruction(
        self,
        key: ManualKey,
        amount: Decimal,
        *,
        hedges: str,
        transfer_id: int | None,
    ) -> tuple[ManualRecord, bool]:
        """The open instruction for `key` with the latest amount; True when it is new."""
        now = self._clock()
        with self._transaction(now) as session:
            row, created = open_or_new(session, ManualInstruction, key, now)
            row.amount, row.hedges, row.transfer_id, row.updated_at = (
                amount,
                hedges,
                transfer_id,
                now,
            )
        return ManualRecord.of(row), created

    def clear_manual_instructions(self, venue: str, keep: Iterable[ManualKey]) -> list[ManualKey]:
        """Clear the venue's open instructions not in `keep`; return the cleared keys."""
        kept = set(keep)
        now = self._clock()

        def clear(row: ManualInstruction) -> None:
            row.state, row.cleared_at, row.updated_at = "cleared", now, now

        with self._transaction(now) as session:
            return clear_open(
                session, ManualInstruction, venue, stays=kept.__contains__, clear=clear
            )
