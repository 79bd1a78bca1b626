"""Bybit's and OKX's transfer answers, decoded strictly (`bot/venues/<venue>/transfers.py`):
only a well-formed success names a transfer, and an answer the bot cannot read is refused,
never read as "no transfers"."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from bot.venues.bybit import transfers as bybit
from bot.venues.decode import Decoder, Untrusted
from bot.venues.okx import transfers as okx

TRANSFER_ID = "8d5b5c9e-0d1f-4c5a-9f3e-2b7a1c6d4e90"


def bybit_row(**change: Any) -> dict[str, Any]:
    row = {
        "transferId": TRANSFER_ID,
        "coin": "USDT",
        "amount": "1234.5",
        "fromAccountType": "FUND",
        "toAccountType": "UNIFIED",
        "timestamp": "1796000000000",
        "status": "SUCCESS",
    }
    return {**row, **change}


def bybit_page(rows: Any, cursor: Any = "") -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": {"list": rows, "nextPageCursor": cursor}}


def test_a_bybit_row_is_read_exactly() -> None:
    decoder = Decoder("bybit", "GET history")
    rows, cursor = bybit.decode_page(decoder, bybit_page([bybit_row()], "abc"))
    entry, source, target = bybit.decode_row(decoder, rows[0], "row 0")
    assert cursor == "abc" and (source, target) == ("FUND", "UNIFIED")
    assert entry.exchange_id == TRANSFER_ID and entry.client_id == TRANSFER_ID.replace("-", "")
    assert entry.amount == D("1234.5") and entry.status == "success"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("<html>", "not a JSON object"),
        (None, "not a JSON object"),
        ({"retCode": 0}, "result is missing"),
        ({"retCode": 10006, "result": {}}, "retCode is 10006"),
        (bybit_page("garbage"), "not a list"),
        (bybit_page([], 7), "nextPageCursor"),
        (bybit_page([{}] * 51), "more than the 50"),
    ],
)
def test_a_bybit_page_the_bot_cannot_read_is_refused(raw: Any, problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        bybit.decode_page(Decoder("bybit", "GET history"), raw)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"transferId": None}, "transferId is null"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "-1"}, "must be above 0"),
        ({"timestamp": "soon"}, "not a time in ms"),
        ({"status": "DONE"}, "status is 'DONE'"),
        ({"coin": ""}, "coin"),
    ],
)
def test_a_bybit_row_the_bot_cannot_read_is_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        bybit.decode_row(Decoder("bybit", "GET history"), bybit_row(**change), "row 0")


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"transferId": TRANSFER_ID, "status": "SUCCESS"}, "SUCCESS"),
        ({"transferId": TRANSFER_ID, "status": "PENDING"}, "PENDING"),
        # the answer does not say: the transfer's record tells
        ({"transferId": TRANSFER_ID}, None),
        ({"transferId": TRANSFER_ID, "status": "STATUS_UNKNOWN"}, None),
    ],
)
def test_a_bybit_reply_names_its_status(result: dict[str, Any], status: str | None) -> None:
    raw = {"retCode": 0, "result": result}
    assert bybit.decode_reply(Decoder("bybit", "POST"), raw, TRANSFER_ID) == status


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"transferId": "another", "status": "SUCCESS"}, "not the"),
        ({"transferId": TRANSFER_ID, "status": "OK"}, "status is 'OK'"),
    ],
)
def test_a_bybit_reply_the_bot_cannot_read_is_refused(result: dict[str, Any], problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        bybit.decode_reply(Decoder("bybit", "POST"), {"retCode": 0, "result": result}, TRANSFER_ID)


def test_bybits_code_is_read_from_ccxts_message() -> None:
    error = Exception('bybit {"retCode":131214,"retMsg":"TransferId exist","result":{}}')
    assert bybit.ret_code_of(error) == bybit.REPEATED_ID
    assert bybit.ret_code_of(Exception("bybit 503 Service Unavailable")) is None


def okx_state(**change: Any) -> dict[str, Any]:
    row = {
        "transId": "754148",
        "clientId": "abc123",
        "ccy": "USDT",
        "amt": "1234.5",
        "from": "6",
        "to": "18",
        "state": "success",
    }
    return {"code": "0", "msg": "", "data": [{**row, **change}]}


def test_an_okx_state_is_read_exactly() -> None:
    state = okx.decode_state(Decoder("okx", "GET state"), okx_state())
    assert (state.trans_id, state.client_id, state.amount, state.state) == (
        "754148",
        "abc123",
        D("1234.5"),
        "success",
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "not a JSON object"),
        ({"code": "0"}, "data is missing"),
        ({"code": "0", "msg": "", "data": "garbage"}, "not a list"),
        ({"code": "0", "msg": "", "data": []}, "0 entries"),
        ({"code": "58129", "msg": "", "data": []}, "code is '58129'"),
        (okx_state(state="7"), "state is '7'"),
        (okx_state(amt="abc"), "amt"),
        (okx_state(clientId=None), "clientId is null"),
    ],
)
def test_an_okx_state_the_bot_cannot_read_is_refused(raw: Any, problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        okx.decode_state(Decoder("okx", "GET state"), raw)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([{"transId": "", "clientId": "abc123"}], "transId"),
        ([{"transId": "12a", "clientId": "abc123"}], "not a transfer id"),
        ([{"transId": "1", "clientId": "other"}], "not the"),
        ([], "0 entries"),
    ],
)
def test_an_okx_transfer_answer_the_bot_cannot_read_is_refused(data: Any, problem: str) -> None:
    with pytest.raises(Untrusted, match=problem):
        okx.decode_trans_id(Decoder("okx", "POST"), {"code": "0", "data": data}, "abc123")


def test_okx_bills_are_read_exactly_and_garbage_refused() -> None:
    bill = {"billId": "9", "ccy": "USDT", "clientId": "", "balChg": "-5", "ts": "1796000000000"}
    decoder = Decoder("okx", "GET bills")
    (read,) = okx.decode_bills(decoder, {"code": "0", "data": [bill]})
    assert (read.bill_id, read.client_id, read.change, read.ts) == ("9", "", D(-5), 1796000000000)
    with pytest.raises(Untrusted, match="not a time in ms"):
        okx.decode_bills(decoder, {"code": "0", "data": [{**bill, "ts": 5}]})
    with pytest.raises(Untrusted, match="more than the 100"):
        okx.decode_bills(decoder, {"code": "0", "data": [bill] * 101})
