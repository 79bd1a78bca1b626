"""Matching an unsettled intent to the venue's history: pure, table-driven.

Times of history entries are on the venue's clock; `venue_time_bounds` places the intent there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bot.ledger.store import TransferRecord
from bot.model import VenueTransfer
from bot.transfers.reconcile import candidates
from bot.transfers.venue_time import Bounds, venue_time_bounds
from tests.records import transfer_record

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=2)


def intent(amount: str = "3000", client_id: str = "c0ffee" * 5 + "ab") -> TransferRecord:
    return transfer_record(
        client_id=client_id, venue="v", hedges="h", planned_amount=D(amount), amount=D(amount)
    )


def entry(
    exchange_id: str,
    amount: str = "3000",
    *,
    seconds: float = 1,
    client_id: str | None = None,
    asset: str = "USDT",
    direction: tuple[str, str] = ("spot", "linear"),
    status: str | None = "ok",
) -> VenueTransfer:
    return VenueTransfer(
        exchange_id=exchange_id,
        client_id=client_id,
        asset=asset,
        amount=D(amount),
        from_account=direction[0],
        to_account=direction[1],
        at=AT + timedelta(seconds=seconds),
        status=status,
    )


# The venue's clock is 5 minutes behind ours: its timestamps read 5 minutes earlier.
BEHIND = timedelta(minutes=-5)
ON_VENUE_CLOCK = venue_time_bounds(AT, AT + timedelta(seconds=1), BEHIND, WINDOW)


def venue(seconds: float) -> float:
    """Seconds after the intent on our clock, as the 5-minutes-behind venue stamps them."""
    return seconds + BEHIND.total_seconds()


@pytest.mark.parametrize(
    ("history", "claimed", "expected"),
    [
        ([entry("1", seconds=venue(1))], set(), ["1"]),
        # amounts match exactly or not at all
        ([entry("1", amount="3000.00000001", seconds=venue(1))], set(), []),
        ([entry("1", asset="BTC", seconds=venue(1))], set(), []),
        ([entry("1", direction=("linear", "spot"), seconds=venue(1))], set(), []),
        ([entry("1", seconds=venue(-60))], set(), []),  # the user's, a minute before the intent
        ([entry("1", seconds=venue(-1))], set(), ["1"]),  # within the offset's uncertainty
        ([entry("1", seconds=venue(3600))], set(), []),  # long after the last attempt
        ([entry("1", seconds=1)], set(), []),  # on our clock: 5 minutes late for the venue's
        ([entry("1", seconds=venue(1))], {"1"}, []),  # another ledger row holds it
        # two fit: both are returned, so that the caller refuses to choose
        ([entry("2", seconds=venue(5)), entry("1", seconds=venue(2))], set(), ["1", "2"]),
        ([entry("1", status="failed", seconds=venue(1))], set(), []),
        # with client ids, only the id decides
        ([entry("1", client_id="someone-else", seconds=venue(1))], set(), []),
        ([entry("1", client_id="c0ffee" * 5 + "ab", amount="2999", seconds=-3600)], set(), ["1"]),
    ],
)
def test_candidates(history: list[VenueTransfer], claimed: set[str], expected: list[str]) -> None:
    found = candidates(intent(), history, claimed, ON_VENUE_CLOCK)
    assert [e.exchange_id for e in found] == expected


def test_bounds_without_a_measured_offset_allow_the_old_skew() -> None:
    bounds = venue_time_bounds(AT, AT, None, WINDOW)
    assert bounds == Bounds(AT - timedelta(minutes=2), AT + timedelta(minutes=4))
