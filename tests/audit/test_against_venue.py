"""The ledger against a venue's own history: a pure comparison, by venue id then client id."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from bot.audit.against_venue import compare
from bot.ledger.store import TransferRecord
from bot.model import TransferStatus, VenueTransfer
from tests.records import transfer_record

AT = datetime(2026, 12, 1, tzinfo=UTC)


def record(n: int, status: TransferStatus, amount: str, exchange_id: str | None) -> TransferRecord:
    return transfer_record(
        id=n,
        client_id=f"c{n}",
        created_at=AT,
        updated_at=AT,
        venue="binance",
        planned_amount=D(amount),
        amount=D(amount),
        status=status,
        exchange_id=exchange_id,
        reason="r",
    )


def venue(exchange_id: str, amount: str, client_id: str | None = None) -> VenueTransfer:
    return VenueTransfer(
        exchange_id=exchange_id,
        client_id=client_id,
        asset="USDT",
        amount=D(amount),
        from_account="spot",
        to_account="linear",
        at=AT,
    )


def test_each_kind_of_difference_is_named() -> None:
    records = [
        record(1, TransferStatus.CONFIRMED, "100", "v1"),  # matched
        record(2, TransferStatus.CONFIRMED, "200", "v2"),  # the venue moved 199
        record(3, TransferStatus.CONFIRMED, "300", "v3"),  # not in the venue's history
        record(4, TransferStatus.UNKNOWN, "400", None),  # found by its client id
        record(5, TransferStatus.PENDING, "500", None),  # open, nothing found
        record(6, TransferStatus.FAILED, "600", None),  # moved nothing: left out
    ]
    history = [venue("v1", "100"), venue("v2", "199"), venue("v4", "400", "c4"), venue("v9", "9")]
    result = compare(records, history)
    assert [r.id for r, _ in result.matched] == [1, 4]
    assert [(r.id, v.amount) for r, v in result.amount_mismatch] == [(2, D("199"))]
    assert [r.id for r in result.missing_at_venue] == [3]
    assert [v.exchange_id for v in result.missing_in_ledger] == ["v9"]
    assert [r.id for r in result.open_in_ledger] == [5]
    assert not result.ok
    assert result.counts() == (
        "matched 2, missing in ledger 1, missing at venue 1, amount mismatch 1, open in ledger 1"
    )
    assert result.lines()[0].startswith("missing in ledger: venue transfer v9 9 USDT spot->linear")


def test_agreement_is_ok() -> None:
    result = compare([record(1, TransferStatus.CONFIRMED, "100", "v1")], [venue("v1", "100")])
    assert result.ok and result.lines() == []
