"""Standing manual instructions (0005): a move the bot cannot make itself, for a person to make;
one row while it stands, updated in place, final once cleared."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import ManualInstruction

#: (venue, asset, from_account, to_account)
ManualKey = tuple[str, str, str, str]


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
        return (self.venue, self.asset, self.from_account, self.to_account)


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
        venue, asset, from_account, to_account = key
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_open_manual(key))
            created = row is None
            if row is None:
                row = ManualInstruction(
                    venue=venue,
                    asset=asset,
                    from_account=from_account,
                    to_account=to_account,
                    first_seen=now,
                    state="open",
                )
                session.add(row)
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
        cleared: list[ManualKey] = []
        with self._transaction(now) as session:
            rows = session.scalars(
                select(ManualInstruction).where(
                    ManualInstruction.venue == venue, ManualInstruction.state == "open"
                )
            )
            for row in rows:
                key = (row.venue, row.asset, row.from_account, row.to_account)
                if key not in kept:
                    row.state, row.cleared_at, row.updated_at = "cleared", now, now
                    cleared.append(key)
        return cleared


def _open_manual(key: ManualKey):  # type: ignore[no-untyped-def]
    venue, asset, from_account, to_account = key
    return select(ManualInstruction).where(
        ManualInstruction.venue == venue,
        ManualInstruction.asset == asset,
        ManualInstruction.from_account == from_account,
        ManualInstruction.to_account == to_account,
        ManualInstruction.state == "open",
    )
