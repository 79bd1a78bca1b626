"""When, on a venue's clock, the venue can have booked what we sent: the window that
reconciling a transfer and a margin leg both search the venue's history in. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: The uncertainty of a measured clock offset (half a round trip) plus timestamp rounding.
OFFSET_UNCERTAINTY = timedelta(seconds=2)
#: The tolerance when the venue's clock offset was never measured (rows written before 0003).
CLOCK_SKEW = timedelta(minutes=2)
#: How long after its last attempt a venue may still book a transfer (its recvWindow is seconds).
BOOKING_DELAY = timedelta(minutes=2)


@dataclass(frozen=True)
class Bounds:
    """When, on the venue's clock, the venue can have booked a transfer."""

    earliest: datetime
    latest: datetime


def venue_time_bounds(
    created_at: datetime,
    last_attempt_at: datetime,
    offset: timedelta | None,
    window: timedelta,
) -> Bounds:
    """From the intent's commit to the last attempt plus the booking delay, on the venue's
    clock (ours + `offset`); a generous tolerance when the offset is not known. Pure."""
    after = max(window, BOOKING_DELAY)
    if offset is None:
        return Bounds(created_at - CLOCK_SKEW, last_attempt_at + after + CLOCK_SKEW)
    return Bounds(
        created_at + offset - OFFSET_UNCERTAINTY,
        last_attempt_at + offset + after + OFFSET_UNCERTAINTY,
    )
