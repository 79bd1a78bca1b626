"""Hedges and venues paused by a person (0014): a mixin of `Ledger`, one short transaction per
fact. A pause is one row: `paused` while it stands (until its `until`, where it has one), then
`resumed` (who and why) or `expired`, and final."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import Pause
from bot.model import Paused, PauseScope

PAUSED, RESUMED, EXPIRED = "paused", "resumed", "expired"


@dataclass(frozen=True, kw_only=True)
class PauseRecord:
    id: int
    scope: PauseScope
    name: str
    reason: str
    paused_by: str
    paused_at: datetime
    until: datetime | None
    state: str
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None

    @classmethod
    def of(cls, row: Pause) -> PauseRecord:
        return cls(
            id=row.id,
            scope=PauseScope(row.scope),
            name=row.name,
            reason=row.reason,
            paused_by=row.paused_by,
            paused_at=row.paused_at,
            until=row.until,
            state=row.state,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
            end_reason=row.end_reason,
        )

    @property
    def paused(self) -> Paused:
        return Paused(
            scope=self.scope,
            name=self.name,
            by=self.paused_by,
            reason=self.reason,
            since=self.paused_at,
            until=self.until,
        )

    def active(self, now: datetime) -> bool:
        """Paused, and its `until` (where it has one) not reached."""
        return self.state == PAUSED and (self.until is None or now < self.until)


def _paused(scope: PauseScope, name: str) -> Select[tuple[Pause]]:
    return select(Pause).where(
        Pause.scope == scope.value, Pause.name == name, Pause.state == PAUSED
    )


class PauseRecords(LedgerBase):
    """Writes and reads of pauses."""

    def pause(
        self, scope: PauseScope, name: str, *, by: str, reason: str, until: datetime | None
    ) -> tuple[PauseRecord, bool]:
        """Pause `name`; the standing pause as it is when one is still active (False), else a
        new one (True). A pause whose `until` passed is written `expired` first."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_paused(scope, name).with_for_update())
            if row is not None and row.until is not None and row.until <= now:
                row.state, row.ended_at = EXPIRED, row.until
                session.flush()
                row = None
            if row is not None:
                return PauseRecord.of(row), False
            row = Pause(
                scope=scope.value,
                name=name,
                reason=reason,
                paused_by=by,
                paused_at=now,
                until=until,
                state=PAUSED,
            )
            session.add(row)
            session.flush()
            return PauseRecord.of(row), True

    def resume(self, scope: PauseScope, name: str, *, by: str, reason: str) -> PauseRecord | None:
        """End the pause of `name` (`resumed`, who and why); None when none is active (one
        whose `until` passed is written `expired` and counts as none)."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_paused(scope, name).with_for_update())
            if row is None:
                return None
            if row.until is not None and row.until <= now:
                row.state, row.ended_at = EXPIRED, row.until
                return None
            row.state, row.ended_at, row.ended_by, row.end_reason = RESUMED, now, by, reason
            return PauseRecord.of(row)

    def active_pauses(self, now: datetime | None = None) -> list[PauseRecord]:
        """Every pause standing at `now` (default: the ledger's clock), oldest first."""
        at = now if now is not None else self._clock()
        with self._sessions() as session:
            rows = session.scalars(select(Pause).where(Pause.state == PAUSED).order_by(Pause.id))
            return [found for found in map(PauseRecord.of, rows) if found.active(at)]

    def pauses_since(self, since: datetime | None) -> list[PauseRecord]:
        """Every pause made since `since` (all when None), oldest first: the report's table."""
        query = select(Pause).order_by(Pause.id)
        if since is not None:
            query = query.where(Pause.paused_at >= since)
        with self._sessions() as session:
            return [PauseRecord.of(row) for row in session.scalars(query)]
