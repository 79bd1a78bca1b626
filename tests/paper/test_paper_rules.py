"""Pure rules: wire formatting, request signing, transfer validation and history paging."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.paper.auth import (
    Credentials,
    check_timestamp,
    sign,
    signed_payload,
    verify_signed_request,
)
from bot.paper.model import MarketKind, Wallet, default_state
from bot.paper.server import binance_urls
from bot.paper.transfers import apply_transfer, parse_amount, query_transfers, transferable
from bot.paper.wire import BinanceError, dumps, fmt8, plain

D = Decimal
NOW = 1_700_000_000_000
CREDENTIALS = Credentials(api_key="key", secret="secret")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4500", "4500.00000000"),
        ("0.123456789", "0.12345678"),
        ("-0.123456789", "-0.12345678"),  # toward zero, as Binance truncates
        ("-0.000000001", "0.00000000"),
        ("3880.597014925373", "3880.59701492"),
        ("0", "0.00000000"),
    ],
)
def test_fmt8_rounds_down_to_eight_places(value, expected):
    assert fmt8(D(value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("-5", "-5"), ("0.0090", "0.009"), ("1E+2", "100"), ("0.000", "0")]
)
def test_plain(value, expected):
    assert plain(D(value)) == expected


def test_dumps_writes_decimals_as_number_literals_and_refuses_floats():
    assert dumps({"a": D("0.005"), "b": [1, "x", None, True]}) == (
        '{"a":0.005,"b":[1,"x",null,true]}'
    )
    with pytest.raises(TypeError):
        dumps({"a": 0.1})


def _signed(query: str, secret: str = "secret") -> str:
    return f"{query}&signature={sign(secret, query)}"


def test_signed_payload_excludes_the_signature():
    payload, signature = signed_payload("a=1&timestamp=5&signature=abc", "")
    assert (payload, signature) == ("a=1&timestamp=5", "abc")
    payload, signature = signed_payload("", "asset=USDT&amount=1&signature=def")
    assert (payload, signature) == ("asset=USDT&amount=1", "def")


def test_verify_accepts_a_good_request_and_returns_params():
    query = _signed(f"asset=USDT&timestamp={NOW}&recvWindow=10000")
    params = verify_signed_request(
        api_key="key", raw_query=query, raw_body="", credentials=CREDENTIALS, server_time=NOW
    )
    assert params == {"asset": "USDT", "timestamp": str(NOW), "recvWindow": "10000"}


def test_verify_checks_the_form_body_of_a_post():
    body = _signed(f"asset=USDT&amount=1&type=MAIN_UMFUTURE&timestamp={NOW}")
    params = verify_signed_request(
        api_key="key", raw_query="", raw_body=body, credentials=CREDENTIALS, server_time=NOW
    )
    assert params["amount"] == "1"


@pytest.mark.parametrize(
    ("api_key", "query", "code", "status"),
    [
        (None, _signed(f"timestamp={NOW}"), -2014, 401),
        ("wrong", _signed(f"timestamp={NOW}"), -2015, 401),
        ("key", _signed(f"timestamp={NOW}", secret="other"), -1022, 400),
        ("key", f"timestamp={NOW}&signature=" + "0" * 64, -1022, 400),
        ("key", f"timestamp={NOW}", -1102, 400),
        ("key", _signed(f"timestamp={NOW}") + "x", -1022, 400),
        ("key", _signed("a=1"), -1102, 400),  # no timestamp
        ("key", _signed(f"timestamp={NOW}&recvWindow=60001"), -1131, 400),
    ],
)
def test_verify_rejections(api_key, query, code, status):
    with pytest.raises(BinanceError) as caught:
        verify_signed_request(
            api_key=api_key, raw_query=query, raw_body="", credentials=CREDENTIALS, server_time=NOW
        )
    assert (caught.value.code, caught.value.status) == (code, status)


@pytest.mark.parametrize(
    ("timestamp", "recv_window", "ok"),
    [
        (NOW, None, True),
        (NOW - 5000, None, True),  # default window is 5000 ms, inclusive
        (NOW - 5001, None, False),
        (NOW - 9000, "10000", True),
        (NOW - 60000, "60000", True),
        (NOW + 999, None, True),  # up to 1 s ahead of the server
        (NOW + 1000, None, False),
    ],
)
def test_timestamp_window(timestamp, recv_window, ok):
    params = {"timestamp": str(timestamp)}
    if recv_window is not None:
        params["recvWindow"] = recv_window
    if ok:
        check_timestamp(params, NOW)
    else:
        with pytest.raises(BinanceError) as caught:
            check_timestamp(params, NOW)
        assert caught.value.code == -1021


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("100", "100"), ("0.00000001", "0.00000001"), ("1.100000000", "1.1"), ("25.5", "25.5")],
)
def test_parse_amount_accepts(raw, expected):
    assert parse_amount(raw) == D(expected)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1.123456789", -1111),
        ("0.000000001", -1111),
        (None, -1102),
        ("", -1102),
        ("-1", -1100),
        ("1e3", -1100),
        ("abc", -1100),
        ("0", -1100),
        ("0.000", -1100),
    ],
)
def test_parse_amount_rejects(raw, code):
    with pytest.raises(BinanceError) as caught:
        parse_amount(raw)
    assert caught.value.code == code


def test_apply_transfer_moves_exactly_and_records_history():
    state = default_state(now=NOW)
    moved, record = apply_transfer(
        state, asset="USDT", amount="1234.56789012", transfer_type="MAIN_UMFUTURE", now=NOW + 1
    )
    assert moved.spot["USDT"].free == D("20000") - D("1234.56789012")
    assert moved.usdm["USDT"].wallet_balance == D("4500") + D("1234.56789012")
    assert moved.usdm["USDT"].update_time == NOW + 1
    assert record.tran_id == state.next_tran_id and moved.next_tran_id == record.tran_id + 1
    assert moved.transfers == (record,)
    assert state.spot["USDT"].free == D("20000")  # the old state is untouched


@pytest.mark.parametrize(
    ("asset", "amount", "transfer_type", "code"),
    [
        ("USDT", "20000.00000001", "MAIN_UMFUTURE", -5013),  # more than spot free
        ("USDT", "3000.00000001", "UMFUTURE_MAIN", -5013),  # more than maxWithdrawAmount
        ("BTC", "0.25000001", "CMFUTURE_MAIN", -5013),
        ("ETH", "0.1", "UMFUTURE_MAIN", -5013),  # nothing there
        ("USDT", "1", "NOPE", -1102),  # not in the documented ENUM
        ("USDT", "1", "UMFUTURE_CMFUTURE", -1102),  # not documented either
        ("USDT", "1", "MAIN_OPTION", -1020),  # documented, but no options wallet here
        ("USDT", "1", None, -1102),
        (None, "1", "MAIN_UMFUTURE", -1102),
        ("DOGE", "1", "MAIN_UMFUTURE", -1100),
        ("USDT", "1", "MAIN_CMFUTURE", -5011),  # COIN-M is margined in coins only
    ],
)
def test_apply_transfer_rejections(asset, amount, transfer_type, code):
    with pytest.raises(BinanceError) as caught:
        apply_transfer(
            default_state(now=NOW), asset=asset, amount=amount, transfer_type=transfer_type, now=NOW
        )
    assert caught.value.code == code


def test_transferable_counts_unrealized_loss_but_not_profit():
    state = default_state(now=NOW)
    assert transferable(state, Wallet.USDM, "USDT") == D(3000)
    losing = state.with_mark_price("ETHUSDT", D("3100"))  # short 5 ETH loses 500
    assert transferable(losing, Wallet.USDM, "USDT") == D(2450)
    winning = state.with_mark_price("ETHUSDT", D("2900"))  # gains 500, IM falls by 50
    assert transferable(winning, Wallet.USDM, "USDT") == D(3050)


def test_mark_price_moves_spot_and_every_perpetual_on_the_base():
    state = default_state(now=NOW).with_mark_price("ETHUSDT", D("2500"))
    assert state.mark_prices["ETHUSDT"] == D("2500")
    assert state.mark_prices["ETHUSD_PERP"] == D("2500")
    assert state.mark_prices["BTCUSDT"] == D("60000")
    assert state.with_mark_price("BTC", D("1")).mark_prices["BTCUSD_PERP"] == D("1")
    with pytest.raises(KeyError):
        state.with_mark_price("DOGEUSDT", D("1"))


def _history(count: int):
    state = default_state(now=NOW)
    for index in range(count):
        state, _ = apply_transfer(
            state,
            asset="USDT",
            amount=str(index + 1),
            transfer_type="MAIN_UMFUTURE",
            now=NOW + index * 1000,
        )
    state, _ = apply_transfer(
        state, asset="USDT", amount="1", transfer_type="UMFUTURE_MAIN", now=NOW + 500
    )
    return state


def test_query_transfers_newest_first_paged_and_filtered_by_type():
    state = _history(25)
    params = {"type": "MAIN_UMFUTURE", "startTime": str(NOW), "size": "10", "current": "1"}
    total, rows = query_transfers(state, params, now=NOW + 60_000)
    assert total == 25
    assert [r.amount for r in rows] == [D(n) for n in range(25, 15, -1)]
    total, rows = query_transfers(state, {**params, "current": "3"}, now=NOW + 60_000)
    assert [r.amount for r in rows] == [D(n) for n in range(5, 0, -1)]
    total, rows = query_transfers(state, {**params, "current": "4"}, now=NOW + 60_000)
    assert (total, rows) == (25, [])
    total, _ = query_transfers(state, {"type": "UMFUTURE_MAIN"}, now=NOW + 60_000)
    assert total == 1


def test_query_transfers_time_window_and_defaults():
    state = _history(5)
    window = {"type": "MAIN_UMFUTURE", "startTime": str(NOW + 1000), "endTime": str(NOW + 3000)}
    total, rows = query_transfers(state, window, now=NOW + 60_000)
    assert [r.amount for r in rows] == [D(4), D(3), D(2)]
    # without times Binance answers the last 7 days only
    total, _ = query_transfers(state, {"type": "MAIN_UMFUTURE"}, now=NOW + 8 * 86_400_000)
    assert total == 0
    total, rows = query_transfers(state, {"type": "MAIN_UMFUTURE", "size": "100"}, now=NOW + 5000)
    assert total == 5 and len(rows) == 5
    with pytest.raises(BinanceError):
        query_transfers(state, {}, now=NOW)


def test_binance_urls_rewrites_binance_hosts_only():
    template = {
        "sapi": "https://api.binance.com/sapi/v1",
        "fapiPrivateV3": "https://fapi.binance.com/fapi/v3",
        "dapiPrivateV2": "https://dapi.binance.com/dapi/v2",
        "papi": "https://papi.binance.com/papi/v1",
        "other": "https://example.com/binance.com/x",
        "ws": {"spot": "wss://stream.binance.com:9443/ws"},
    }
    urls = binance_urls("http://127.0.0.1:5555/", template)
    assert urls["sapi"] == "http://127.0.0.1:5555/sapi/v1"
    assert urls["fapiPrivateV3"] == "http://127.0.0.1:5555/fapi/v3"
    assert urls["dapiPrivateV2"] == "http://127.0.0.1:5555/dapi/v2"
    assert urls["papi"] == "http://127.0.0.1:5555/papi/v1"
    assert urls["other"] == template["other"]
    assert urls["ws"] == template["ws"]
    assert template["sapi"] == "https://api.binance.com/sapi/v1"  # the template is not changed


def test_positions_are_per_kind():
    state = default_state(now=NOW)
    assert state.position(MarketKind.LINEAR, "ETHUSDT").amount == D(-5)
    assert state.position(MarketKind.INVERSE, "ETHUSDT") is None
    flat = replace(state, positions=())
    assert flat.position(MarketKind.LINEAR, "ETHUSDT") is None
