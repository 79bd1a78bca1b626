"""Strict reading of the margin mode and the margin-change history (the venue layer): refuse,
never guess."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from bot.venues.binance.venue import (
    decode_margin_history,
    decode_margin_mode,
    decode_margin_reply,
)
from bot.venues.decode import Decoder, Untrusted

DECODER = Decoder("binance", "GET /fapi/v2/positionRisk")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"marginType": "cross", "isolatedWallet": "0"}, ("cross", None)),
        ({"marginType": "isolated", "isolatedWallet": "1850.5"}, ("isolated", D("1850.5"))),
        # /fapi/v3/positionRisk has no marginType: a positive isolatedWallet is isolated
        ({"isolatedWallet": "1850"}, ("isolated", D("1850"))),
        ({"isolatedWallet": "0"}, ("cross", None)),
        ({}, (None, None)),  # a venue that says nothing: unknown, never assumed cross
    ],
)
def test_margin_mode(entry: dict[str, str], expected: tuple[object, object]) -> None:
    decoded = decode_margin_mode(DECODER, entry, "ETHUSDT")
    assert (decoded["margin_mode"], decoded["isolated_wallet"]) == expected


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"marginType": "isolated", "isolatedWallet": "0"}, "isolatedWallet is 0"),
        ({"marginType": "isolated"}, "isolatedWallet is None"),
        ({"marginType": "ISOLATED", "isolatedWallet": "5"}, "not cross or isolated"),
        ({"marginType": "isolated", "isolatedWallet": "NaN"}, "not a finite number"),
        ({"isolatedWallet": "-3"}, "cannot be negative"),
    ],
)
def test_a_margin_mode_it_cannot_trust_is_refused(entry: dict[str, str], words: str) -> None:
    with pytest.raises(Untrusted, match=words):
        decode_margin_mode(DECODER, entry, "ETHUSDT")


ROW = {
    "symbol": "ETHUSDT",
    "type": 1,
    "deltaType": "USER_ADJUST",
    "amount": "23.36332311",
    "asset": "USDT",
    "time": 1578047897183,
    "positionSide": "BOTH",
}


def test_history_rows_are_read_exactly() -> None:
    (change,) = decode_margin_history(DECODER, [ROW], "ETHUSDT", "ETH/USDT:USDT", 500)
    assert change.add and change.amount == D("23.36332311") and change.asset == "USDT"
    assert change.at == datetime.fromtimestamp(1578047897.183, UTC)
    (reduce,) = decode_margin_history(DECODER, [{**ROW, "type": 2}], "ETHUSDT", "x", 500)
    assert not reduce.add


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([{**ROW, "symbol": "BTCUSDT"}], "BTCUSDT'; ETHUSDT was asked for"),
        ([{**ROW, "type": 3}], r"not 1 \(add\) or 2 \(reduce\)"),
        ([{**ROW, "type": True}], r"not 1 \(add\) or 2 \(reduce\)"),
        ([{**ROW, "amount": "0"}], "must be above 0"),
        ([{**ROW, "time": "soon"}], "not a time in ms"),
        ([ROW, ROW], "the limit"),  # as many rows as asked for: the list may be cut short
        ({"rows": []}, "not a list"),
    ],
)
def test_a_history_it_cannot_trust_is_never_evidence(rows: object, words: str) -> None:
    with pytest.raises(Untrusted, match=words):
        decode_margin_history(DECODER, rows, "ETHUSDT", "ETH/USDT:USDT", 2)


def test_a_margin_reply_confirms_only_what_was_sent() -> None:
    reply = {
        "amount": "100.0",
        "code": 200,
        "msg": "Successfully modify position margin.",
        "type": 1,
    }
    decode_margin_reply(DECODER, reply, 1, D("100"))
    for bad, words in (
        ({**reply, "code": 400}, "not 200"),
        ({**reply, "type": 2}, "1 was sent"),
        ({**reply, "amount": "99"}, "not the 100 sent"),
        ({"msg": "ok"}, "code is missing"),
    ):
        with pytest.raises(Untrusted, match=words):
            decode_margin_reply(DECODER, bad, 1, D("100"))
