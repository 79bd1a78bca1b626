"""The ledger's standing conditions (0009): venues halted by a fatal refusal, and moves the
plan wants with nothing to move. A mixin of `Ledger`, one short transaction per fact.

Like the manual instructions (`manual.py`), a condition seen every cycle is one row,
updated in place while it stands (each write journaled) and final once it ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from bot.ledger.by_move import MoveKey, clear_open, move_key, open_or_new
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import NothingToMove, VenueHalt

HALTED, CLEARED, RESUMED = "halted", "cleared", "resumed"


@dataclass(frozen=True, kw_only=True)
class HaltRecord:
    id: int
    venue: str
    halted_at: datetime
    kind: str
    code: str | None
    error: str
    hint: str | None
    fingerprint: str
    salt: str
    transfer_id: int | None
    margin_leg_id: int | None
    state: str
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None

    @classmethod
    def of(cls, row: VenueHalt) -> HaltRecord:
        return cls(
            id=row.id,
            venue=row.venue,
            halted_at=row.halted_at,
            kind=row.kind,
            code=row.code,
            error=row.error,
            hint=row.hint,
            fingerprint=row.fingerprint,
            salt=row.salt,
            transfer_id=row.transfer_id,
            margin_leg_id=row.margin_leg_id,
            state=row.state,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
            end_reason=row.end_reason,
        )

    @property
    def fix(self) -> str:
        """What a person does about it: the venue's hint, then the command that resumes."""
        first = f"{self.hint}; then: " if self.hint else "fix what the error says; then: "
        return f'{first}bot venue resume {self.venue} --reason "..."'

    def message(self) -> str:
        """One line: what was refused, since when, and the fix."""
        return (
            f"venue {self.venue} halted since {self.halted_at:%Y-%m-%d %H:%M:%S}Z: nothing is "
            f"sent on it; {self.error} (fix: {self.fix})"
        )


@dataclass(frozen=True, kw_only=True)
class NothingToMoveRecord:
    id: int
    venue: str
    asset: str
    from_account: str
    to_account: str
    hedges: str
    rule: str
    reason: str
    planned_amount: Decimal
    first_seen: datetime
    last_seen: datetime
    count: int

    @classmethod
    def of(cls, row: NothingToMove) -> NothingToMoveRecord:
        return cls(
            id=row.id,
            venue=row.venue,
            asset=row.asset,
            from_account=row.from_account,
            to_account=row.to_account,
            hedges=row.hedges,
            rule=row.rule,
            reason=row.reason,
            planned_amount=row.planned_amount,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            count=row.count,
        )

    @property
    def key(self) -> MoveKey:
        return move_key(self)

    def message(self) -> str:
        return (
            f"{self.venue}: nothing to move {self.asset} {self.from_account} -> "
            f"{self.to_account} for {self.hedges} (planned {self.planned_amount:f}): "
            f"{self.reason}"
        )


class StandingRecords(LedgerBase):
    """Writes and reads of venue halts and standing nothing-to-move conditions."""

    # venue halts ----------------------------------------------------------------------------

    def open_halts(self) -> list[HaltRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(VenueHalt).where(VenueHalt.state == HALTED).order_by(VenueHalt.id)
            )
            return [HaltRecord.of(row) for row in rows]

    def halt_of(self, venue: str) -> HaltRecord | None:
        with self._sessions() as session:
            row = session.scalar(_halted(venue))
            return HaltRecord.of(row) if row is not None else None

    def record_halt(
        self,
        venue: str,
        *,
        kind: str,
        code: str | None,
        error: str,
        hint: str | None,
        fingerprint: str,
        salt: str,
        transfer_id: int | None = None,
        margin_leg_id: int | None = None,
    ) -> tuple[HaltRecord, bool]:
        """Halt `venue` (`error` already redacted); the open halt as it is when there is one
        already. True when it is new."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_halted(venue))
            if row is not None:
                return HaltRecord.of(row), False
            row = VenueHalt(
                venue=venue,
                halted_at=now,
                kind=kind,
                code=code,
                error=error,
                hint=hint,
                fingerprint=fingerprint,
                salt=salt,
                transfer_id=transfer_id,
                margin_leg_id=margin_leg_id,
                state=HALTED,
            )
            session.add(row)
        return HaltRecord.of(row), True

    def end_halt(self, venue: str, *, state: str, by: str, reason: str) -> HaltRecord | None:
        """End the venue's halt (`cleared` by the bot, `resumed` by a person), recording who
        and why; None when the venue is not halted."""
        assert state in (CLEARED, RESUMED)
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_halted(venue).with_for_update())
            if row is None:
                return None
            row.state, row.ended_at, row.ended_by, row.end_reason = state, now, by, reason
            return HaltRecord.of(row)

    # nothing to move ------------------------------------------------------------------------

    def open_nothing_to_move(self, venue: str | None = None) -> list[NothingToMoveRecord]:
        with self._sessions() as session:
            query = select(NothingToMove).where(NothingToMove.state == "open")
            if venue is not None:
                query = query.where(NothingToMove.venue == venue)
            rows = session.scalars(query.order_by(NothingToMove.id))
            return [NothingToMoveRecord.of(row) for row in rows]

    def stand_nothing_to_move(
        self, key: MoveKey, *, hedges: str, rule: str, reason: str, planned: Decimal
    ) -> tuple[NothingToMoveRecord, bool]:
        """The open condition for `key`, seen once more (a new row the first time): its count,
        last seen, latest reason and planned amount. True when it is new."""
        now = self._clock()
        with self._transaction(now) as session:
            row, created = open_or_new(session, NothingToMove, key, now, count=0)
            row.hedges, row.rule, row.reason, row.planned_amount = hedges, rule, reason, planned
            row.last_seen, row.count = now, (row.count or 0) + 1
        return NothingToMoveRecord.of(row), created

    def clear_nothing_to_move(
        self,
        venues: str | Iterable[str],
        *,
        keep: Iterable[MoveKey] = (),
        only: Iterable[MoveKey] | None = None,
    ) -> list[MoveKey]:
        """Clear the venue's (or venues') open conditions not in `keep` (with `only`: among
        those keys), in one transaction; return the cleared keys."""
        kept = set(keep)
        among = set(only) if only is not None else None
        now = self._clock()

        def stays(key: MoveKey) -> bool:
            return key in kept or (among is not None and key not in among)

        def clear(row: NothingToMove) -> None:
            row.state, row.cleared_at = "cleared", now

        with self._transaction(now) as session:
            return clear_open(session, NothingToMove, venues, stays=stays, clear=clear)


def _halted(venue: str):  # type: ignore[no-untyped-def]
    return select(VenueHalt).where(VenueHalt.venue == venue, VenueHalt.state == HALTED)
