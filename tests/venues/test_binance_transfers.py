"""Binance's transfer reply and history pages, decoded strictly: only a positive `tranId`
confirms, and a history page the bot cannot read is an error, never "absent"."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from bot.venues.binance.venue import decode_tran_id, decode_transfer_page
from bot.venues.decode import Decoder, Untrusted

TYPE = "MAIN_UMFUTURE"


def page(raw: Any) -> tuple[int, list[Any]]:
    return decode_transfer_page(
        Decoder("b", "GET /sapi/v1/asset/transfer"), raw, TYPE, "spot", "linear"
    )


def row(**change: Any) -> dict[str, Any]:
    entry = {
        "timestamp": 1796000000000,
        "asset": "USDT",
        "amount": "2969.99998766",
        "type": TYPE,
        "status": "CONFIRMED",
        "tranId": 43000126248,
    }
    return {**entry, **change}


@pytest.mark.parametrize("value", [43000126248, "43000126248"])
def test_a_positive_tran_id_confirms(value: Any) -> None:
    assert decode_tran_id(Decoder("b", "POST"), {"tranId": value}, "the answer") == "43000126248"


@pytest.mark.parametrize("value", [None, 0, -1, "", "abc", True, 1.5, [], {}])
def test_anything_else_is_not_a_transfer_id(value: Any) -> None:
    with pytest.raises(Untrusted, match="tranId"):
        decode_tran_id(Decoder("b", "POST"), {"tranId": value}, "the answer")


def test_a_page_decodes_every_row_exactly() -> None:
    total, (entry,) = page({"total": 1, "rows": [row()]})
    assert total == 1 and entry.exchange_id == "43000126248"
    assert entry.amount == D("2969.99998766") and (entry.from_account, entry.to_account) == (
        "spot",
        "linear",
    )


def test_nothing_is_total_zero_without_rows() -> None:
    assert page({"total": 0}) == (0, [])


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"total": 1}, "rows is missing"),
        ({}, "not a JSON object"),
        ([], "not a JSON object"),
        ("<html>", "not a JSON object"),
        ({"rows": [row()]}, "total is missing"),
        ({"total": "1", "rows": [row()]}, "not a count"),
        ({"total": 1, "rows": "x"}, "not a list"),
        ({"total": 0, "rows": [row()]}, "lists 1 rows"),
        ({"total": 1, "rows": [row(tranId=None)]}, "tranId is null"),
        ({"total": 1, "rows": [row(amount="NaN")]}, "not a finite number"),
        ({"total": 1, "rows": [row(amount="-5")]}, "must be above 0"),
        ({"total": 1, "rows": [row(type="UMFUTURE_MAIN")]}, "was asked for"),
        ({"total": 1, "rows": [row(timestamp="soon")]}, "not a time in ms"),
        ({"total": 1, "rows": [row(asset=None)]}, "asset is null"),
    ],
)
def test_a_page_the_bot_cannot_read_is_refused(raw: Any, problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        page(raw)
