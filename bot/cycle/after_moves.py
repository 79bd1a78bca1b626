"""The read after the moves: each venue that moved money is read again as soon as its own moves
are done, while the other venues' transfers are still in flight.

The cycle records it as the run's second snapshot (`CycleResult.after`): the margin `bot
status`, the report, the metrics and the guard's watch start from is the one after the move,
not the one that called for it. Waiting for every venue's last answer before reading any of
them again put a 20-venue cycle's slowest answer, its bookkeeping and the first snapshot's
write in front of all twenty reads; a venue's read needs only its own moves to be done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType

from bot.model import State, TransferStatus, VenueState
from bot.transfers.executor import ExecutionResult
from bot.transfers.margin_legs import MarginLegsResult
from bot.venues.base import Venue
from bot.venues.session import for_venue, read_venue

log = logging.getLogger(__name__)

#: a transfer or margin leg that moved money
MOVED = (TransferStatus.CONFIRMED,)


class AfterMoves:
    """The venues read again after their moves, each started when told (`venue_done`, `read`);
    used as an async context, which cancels a read not collected (the cycle failed)."""

    def __init__(self, venues: Mapping[str, Venue]) -> None:
        self._venues = venues
        self._reads: dict[str, asyncio.Task[VenueState]] = {}
        self._started_at: datetime | None = None

    async def __aenter__(self) -> AfterMoves:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        unfinished = [task for task in self._reads.values() if not task.done()]
        for task in unfinished:
            task.cancel()
        # collected either way, so that no read's failure is left unretrieved
        await asyncio.gather(*self._reads.values(), return_exceptions=True)

    def venue_done(self, name: str, result: ExecutionResult) -> None:
        """The executor's word that a venue's lines are done: read it now if money moved."""
        if any(t.status in MOVED for t in result.transfers):
            self.read([name])

    def read(self, names: Iterable[str]) -> None:
        """Start reading these venues again (those not started yet)."""
        for name in names:
            venue = self._venues.get(name)
            if venue is None or name in self._reads:
                continue
            if self._started_at is None:
                self._started_at = datetime.now(UTC)
            self._reads[name] = asyncio.ensure_future(for_venue(venue, read_venue))

    def read_the_rest(self, margin: MarginLegsResult) -> None:
        """Once the plan has run: every venue that moved money and is not read yet (an isolated
        move's venue is told only now; a margin leg's record does not name its venue, so one
        that moved has every venue read)."""
        moved = {t.venue for t in margin.execution.transfers if t.status in MOVED}
        if any(leg.status in MOVED for leg in margin.legs):
            moved = set(self._venues)
        self.read(sorted(moved))

    async def state(self) -> State | None:
        """The venues read again; a venue that could not be read now keeps its earlier read (it
        is not a failure of the cycle: its moves are recorded). None: none was read."""
        if not self._reads:
            return None
        names = sorted(self._reads)
        outcomes = await asyncio.gather(*(self._reads[n] for n in names), return_exceptions=True)
        read: dict[str, VenueState] = {}
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, VenueState):
                read[name] = outcome
            elif isinstance(outcome, Exception):
                log.warning(
                    "%s: could not read the venue again after its moves (%s)", name, outcome
                )
            else:  # cancelled, or the process is going down: not this venue's failure
                raise outcome
        if not read or self._started_at is None:
            return None
        return State(read_at=self._started_at, venues=read)
