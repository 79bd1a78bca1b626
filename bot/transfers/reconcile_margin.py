"""Settling open margin legs (`pending`/`unknown`) against the venue's margin-change history.

Binance's `positionMargin/history` carries no id of ours, so a leg is found by symbol,
direction (type 1 add / 2 reduce) and exact amount, booked inside the window the leg could
have been applied in (on the venue's clock, `venue_time.venue_time_bounds`), and not held by
another leg. One entry: `confirmed`. None, once the settle window has passed: `failed` (the
venue applies margin changes at once). Two or more, or a history it cannot read: the leg stays
open for an operator, and its move stays half done (`margin_legs.half_done_moves`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.ledger.margin_queries import claimed_margin_times, margin_leg_offsets, open_margin_legs
from bot.ledger.store import Clock, Ledger, MarginLegRecord, utc_now
from bot.model import MarginChange, TransferStatus
from bot.money import plain
from bot.runtime.logs import log_context
from bot.transfers.venue_time import venue_time_bounds
from bot.venues.base import Venue
from bot.venues.errors import VenueError

log = logging.getLogger(__name__)


@dataclass
class MarginReconcileReport:
    settled: list[MarginLegRecord] = field(default_factory=list)
    still_open: list[tuple[MarginLegRecord, str]] = field(default_factory=list)


def matching(
    leg: MarginLegRecord,
    history: list[MarginChange],
    earliest: datetime,
    latest: datetime,
    claimed: set[object],
) -> list[MarginChange]:
    """History entries that can be this leg. Pure."""
    return [
        entry
        for entry in history
        if entry.add == leg.add
        and entry.amount == leg.amount
        and entry.asset == leg.asset
        and earliest <= entry.at <= latest
        and entry.at not in claimed
    ]


class MarginReconciler:
    def __init__(
        self,
        venues: Mapping[str, Venue],
        ledger: Ledger,
        *,
        settle_window: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._venues = venues
        self._ledger = ledger
        self._window = settle_window
        self._clock = clock

    async def reconcile(self) -> MarginReconcileReport:
        report = MarginReconcileReport()
        for venue_name, venue in self._venues.items():
            with log_context(venue=venue_name):  # this venue's lines say so
                for leg in open_margin_legs(self._ledger, venue=venue_name):
                    await self._settle(venue, leg, report)
        return report

    async def _settle(
        self, venue: Venue, leg: MarginLegRecord, report: MarginReconcileReport
    ) -> None:
        attempts = margin_leg_offsets(self._ledger, leg.id)
        offsets = [o for o, _ in attempts if o is not None]
        offset = timedelta(milliseconds=offsets[-1]) if offsets else None
        last: datetime = attempts[-1][1] if attempts else leg.created_at
        bounds = venue_time_bounds(leg.created_at, last, offset, self._window)
        verb = "add" if leg.add else "reduce"
        try:
            history = await venue.margin_history(leg.symbol, bounds.earliest)
        except VenueError as exc:
            report.still_open.append((leg, f"margin history unreadable: {exc}"))
            return
        claimed = claimed_margin_times(self._ledger, venue.name, leg.symbol)
        found = matching(leg, history, bounds.earliest, bounds.latest, claimed)
        if len(found) == 1:
            settled = self._ledger.record_margin_outcome(
                leg.id, TransferStatus.CONFIRMED, settled_by="history", venue_at=found[0].at
            )
            report.settled.append(settled)
            return
        if len(found) > 1:
            times = ", ".join(entry.at.isoformat() for entry in found)
            report.still_open.append(
                (leg, f"{len(found)} margin changes fit ({times}): settle it by hand")
            )
            return
        if self._clock() - last < self._window:
            report.still_open.append((leg, "not in the margin history yet; asking again later"))
            return
        settled = self._ledger.record_margin_outcome(
            leg.id,
            TransferStatus.FAILED,
            settled_by="history",
            error=(
                f"{verb} {plain(leg.amount)} {leg.asset} is not in {leg.symbol}'s margin history: "
                "never applied"
            ),
        )
        report.settled.append(settled)
