"""Matching an unsettled intent to the venue's history: pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bot.ledger.store import TransferRecord
from bot.model import TransferStatus, VenueTransfer
from bot.reconcile import find_match

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=2)


def intent(amount: str = "3000", client_id: str = "c0ffee" * 5 + "ab") -> TransferRecord:
    return TransferRecord(
        id=1,
        run_id=1,
        client_id=client_id,
        created_at=AT,
        updated_at=AT,
        venue="v",
        hedges="h",
        asset="USDT",
        from_account="spot",
        to_account="linear",
        rule="top_up",
        planned_amount=D(amount),
        amount=D(amount),
        status=TransferStatus.UNKNOWN,
        exchange_id=None,
        error=None,
        reason="",
        dry_run=False,
        attempts=1,
        replaces_id=None,
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


@pytest.mark.parametrize(
    ("history", "claimed", "expected"),
    [
        ([entry("1")], set(), "1"),
        ([entry("1", amount="3000.00000001")], set(), None),  # amounts match exactly or not at all
        ([entry("1", asset="BTC")], set(), None),
        ([entry("1", direction=("linear", "spot"))], set(), None),
        ([entry("1", seconds=-3600)], set(), None),  # long before the intent
        ([entry("1", seconds=3600)], set(), None),  # long after the window
        ([entry("1", seconds=-30)], set(), "1"),  # venue clock a little behind ours
        ([entry("1")], {"1"}, None),  # another ledger row holds it
        ([entry("2", seconds=5), entry("1", seconds=2)], set(), "1"),  # the earliest
        ([entry("1", status="failed")], set(), None),
        # with client ids, only the id decides
        ([entry("1", client_id="someone-else")], set(), None),
        ([entry("1", client_id="c0ffee" * 5 + "ab", amount="2999")], set(), "1"),
    ],
)
def test_find_match(history: list[VenueTransfer], claimed: set[str], expected: str | None) -> None:
    found = find_match(intent(), history, claimed, window=WINDOW)
    assert (found.exchange_id if found else None) == expected
