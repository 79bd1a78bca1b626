"""The real ccxt binance client (4.5.90), unmodified but for its API URLs, against the server."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest

from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, serve_forever
from tests.waiting import bounded

D = Decimal


def _unified_keys(parsed: dict[str, Any]) -> set[str]:
    # the recordings predate 4.5.90, which no longer sets the deprecated "marginType" key
    return set(parsed) - {"info", "_note", "marginType"}


async def test_load_markets_parses_every_market_with_sane_precision(client):
    markets = await client.load_markets()
    assert {symbol for symbol, market in markets.items() if not market["future"]} == {
        "ETH/USDT",
        "BTC/USDT",
        "ETH/USDT:USDT",
        "BTC/USDT:USDT",
        "BTC/USD:BTC",
        "ETH/USD:ETH",
    }
    # beside the perpetuals, one quarterly future per pair, as Binance lists them
    futures = [market for market in markets.values() if market["future"]]
    assert sorted((m["base"], m["settle"]) for m in futures) == [
        ("BTC", "BTC"),
        ("BTC", "USDT"),
        ("ETH", "ETH"),
        ("ETH", "USDT"),
    ]
    assert all(m["active"] and m["expiry"] > client.milliseconds() for m in futures)
    spot = markets["ETH/USDT"]
    assert spot["spot"] and spot["active"] and not spot["contract"]
    assert spot["precision"]["amount"] == 0.0001 and spot["precision"]["price"] == 0.01
    linear = markets["ETH/USDT:USDT"]
    assert linear["swap"] and linear["linear"] and linear["settle"] == "USDT"
    assert linear["contractSize"] == 1 and linear["limits"]["amount"]["min"] == 0.001
    assert linear["limits"]["cost"]["min"] == 5
    inverse = markets["BTC/USD:BTC"]
    assert inverse["inverse"] and inverse["settle"] == "BTC" and inverse["contractSize"] == 100
    assert markets["ETH/USD:ETH"]["contractSize"] == 10
    # currencies come from /sapi/v1/capital/config/getall; 8 decimals, like transfers accept
    assert client.currencies["USDT"]["precision"] == 1e-8
    assert "ERC20" in client.currencies["USDT"]["networks"]


async def test_fetch_time_on_every_api(client, exchange):
    for params in (
        {},
        {"type": "swap", "subType": "linear"},
        {"type": "swap", "subType": "inverse"},
    ):
        served = await client.fetch_time(params)
        assert abs(served - exchange.server_time()) < 2000


async def test_spot_balance(client, response_fixtures):
    balance = await client.fetch_balance()
    expected = response_fixtures["fetchBalance"][0]["parsedResponse"]
    assert set(balance) - {"info"} >= {"free", "used", "total", "timestamp", "datetime"}
    assert set(balance["USDT"]) >= set(expected["ETH"])
    usdt = balance["USDT"]
    assert (usdt["free"], usdt["used"], usdt["total"]) == (20000.0, 0.0, 20000.0)
    assert balance["ETH"]["free"] == 5.0 and balance["BTC"]["free"] == 1.0
    assert balance["timestamp"] is not None
    raw_usdt = next(b for b in balance["info"]["balances"] if b["asset"] == "USDT")
    assert raw_usdt == {"asset": "USDT", "free": "20000.00000000", "locked": "0.00000000"}


async def test_linear_balance(client, response_fixtures):
    balance = await client.fetch_balance({"type": "swap", "subType": "linear"})
    fixture = response_fixtures["fetchBalance"][1]
    assert set(balance["USDT"]) >= set(fixture["parsedResponse"]["USDT"])
    assert balance["USDT"]["free"] == 3000.0  # availableBalance
    assert balance["USDT"]["used"] == 1500.0  # initial margin
    assert balance["USDT"]["total"] == 4500.0  # margin balance
    raw = balance["info"]
    assert set(raw) >= set(fixture["httpResponse"]) - {
        "feeTier",
        "canTrade",
        "canDeposit",
        "canWithdraw",
        "tradeGroupId",
        "updateTime",
        "multiAssetsMargin",
    }  # v3 drops the v2-only flags, as ccxt's own v3 recording shows
    usdt = raw["assets"][0]
    assert set(usdt) >= set(fixture["httpResponse"]["assets"][0]) - {"marginAvailable"}
    assert usdt["walletBalance"] == "4500.00000000"
    assert usdt["maxWithdrawAmount"] == "3000.00000000"
    assert raw["positions"][0]["notional"] == "-15000.00000000"


async def test_inverse_balance(client):
    balance = await client.fetch_balance({"type": "swap", "subType": "inverse"})
    assert balance["BTC"]["free"] == 0.25
    assert balance["BTC"]["used"] == 0.05
    assert balance["BTC"]["total"] == 0.3
    btc = balance["info"]["assets"][0]
    assert btc["crossWalletBalance"] == "0.30000000" and btc["maxWithdrawAmount"] == "0.25000000"


async def test_raw_coinm_balance_endpoint(client):
    await client.load_markets()
    rows = await client.dapiPrivateGetBalance()
    assert rows == [
        {
            "accountAlias": rows[0]["accountAlias"],
            "asset": "BTC",
            "balance": "0.30000000",
            "withdrawAvailable": "0.25000000",
            "crossWalletBalance": "0.30000000",
            "crossUnPnl": "0.00000000",
            "availableBalance": "0.25000000",
            "updateTime": rows[0]["updateTime"],  # no maxWithdrawAmount: Binance has none here
        }
    ]
    usdm_rows = await client.fapiPrivateV2GetBalance()
    assert usdm_rows[0]["maxWithdrawAmount"] == "3000.00000000"
    assert (await client.fapiPrivateV3GetBalance()) == usdm_rows
    account_v2 = await client.fapiPrivateV2GetAccount()
    assert account_v2["multiAssetsMargin"] is False
    perpetuals = {p["symbol"] for p in account_v2["positions"] if "_" not in p["symbol"]}
    assert perpetuals == {"ETHUSDT", "BTCUSDT"}  # and the quarterly futures, ETHUSDT_yymmdd


async def test_linear_positions(client, response_fixtures):
    positions = await client.fetch_positions(["ETH/USDT:USDT"])
    assert len(positions) == 1
    position = positions[0]
    expected = response_fixtures["fetchPositions"][1]["parsedResponse"][0]
    assert _unified_keys(position) >= _unified_keys(expected)
    assert set(position["info"]) >= set(expected["info"])
    assert position["symbol"] == "ETH/USDT:USDT"
    assert position["side"] == "short"
    assert position["contracts"] == 5.0 and position["contractSize"] == 1.0
    assert position["notional"] == 15000.0
    assert position["unrealizedPnl"] == 0.0
    assert position["markPrice"] == 3000.0 and position["entryPrice"] == 3000.0
    assert position["initialMargin"] == 1500.0
    assert position["maintenanceMarginPercentage"] == 0.005  # from /fapi/v1/leverageBracket
    assert position["liquidationPrice"] == pytest.approx(3880.597, abs=1e-3)
    assert position["marginMode"] == "cross"


async def test_inverse_positions(client, response_fixtures):
    positions = await client.fetch_positions(None, {"subType": "inverse"})
    assert [p["symbol"] for p in positions] == ["BTC/USD:BTC"]  # flat ETHUSD_PERP filtered out
    position = positions[0]
    expected = response_fixtures["fetchPositions"][3]["parsedResponse"][0]
    assert _unified_keys(position) >= _unified_keys(expected)
    assert set(position["info"]) == set(expected["info"])
    assert position["side"] == "short"
    assert position["contracts"] == 300.0 and position["contractSize"] == 100.0
    assert position["notional"] == 0.5
    assert position["unrealizedPnl"] == 0.0
    assert position["markPrice"] == 60000.0 and position["entryPrice"] == 60000.0
    assert position["leverage"] == 10
    assert position["liquidationPrice"] == 149250.0
    assert position["maintenanceMarginPercentage"] == 0.005  # from /dapi/v2/leverageBracket


async def test_positions_reflect_mark_price(client, exchange):
    exchange.set_mark_price("ETHUSDT", D("3100"))
    exchange.set_mark_price("BTCUSD_PERP", D("50000"))
    linear = (await client.fetch_positions(["ETH/USDT:USDT"]))[0]
    assert linear["unrealizedPnl"] == -500.0 and linear["notional"] == 15500.0
    await client.load_leverage_brackets(True, {"subType": "inverse"})
    inverse = (await client.fetch_positions(None, {"subType": "inverse"}))[0]
    assert inverse["unrealizedPnl"] == pytest.approx(0.1)
    assert inverse["notional"] == pytest.approx(0.6)


async def test_funding_rates(client, exchange):
    linear = await client.fetch_funding_rate("ETH/USDT:USDT")
    assert linear["symbol"] == "ETH/USDT:USDT"
    assert linear["fundingRate"] == 0.0001 and linear["markPrice"] == 3000.0
    assert linear["fundingTimestamp"] > exchange.server_time()
    assert linear["fundingTimestamp"] % (8 * 3_600_000) == 0
    inverse = await client.fetch_funding_rate("BTC/USD:BTC")
    assert inverse["symbol"] == "BTC/USD:BTC" and inverse["fundingRate"] == 0.0001
    linear_rates = await client.fetch_funding_rates()
    perpetual = {s for s in linear_rates if client.markets[s]["swap"]}
    assert perpetual == {"ETH/USDT:USDT", "BTC/USDT:USDT"}
    # a dated future pays no funding: Binance's premiumIndex sends its rate empty
    assert all(linear_rates[s]["fundingRate"] is None for s in set(linear_rates) - perpetual)
    inverse_rates = await client.fetch_funding_rates(None, {"subType": "inverse"})
    assert {s for s in inverse_rates if client.markets[s]["swap"]} == {
        "BTC/USD:BTC",
        "ETH/USD:ETH",
    }


async def test_tickers_follow_the_mark(client, exchange):
    exchange.set_mark_price("ETHUSDT", D("2500.5"))
    for symbol in ("ETH/USDT", "ETH/USDT:USDT", "ETH/USD:ETH"):
        ticker = await client.fetch_ticker(symbol)
        assert ticker["last"] == 2500.5, symbol


async def test_transfer_spot_to_linear_moves_exactly_and_is_listed(client, exchange):
    before = exchange.state
    result = await client.transfer("USDT", 1234.56789012, "spot", "linear")
    assert result["id"] == str(before.next_tran_id)
    after = exchange.state
    moved = D("1234.56789012")
    assert after.spot["USDT"].free == before.spot["USDT"].free - moved
    assert after.usdm["USDT"].wallet_balance == before.usdm["USDT"].wallet_balance + moved
    transfers = await client.fetch_transfers(
        "USDT", None, None, {"fromAccount": "spot", "toAccount": "linear"}
    )
    assert len(transfers) == 1
    listed = transfers[0]
    assert listed["id"] == result["id"]
    assert listed["amount"] == 1234.56789012 and listed["info"]["amount"] == "1234.56789012"
    assert (listed["fromAccount"], listed["toAccount"], listed["status"]) == (
        "spot",
        "linear",
        "ok",
    )
    assert listed["currency"] == "USDT"
    assert (
        await client.fetch_transfers(
            "USDT", None, None, {"fromAccount": "linear", "toAccount": "spot"}
        )
        == []
    )


async def test_every_transfer_direction(client, exchange):
    await client.transfer("BTC", 0.1, "spot", "inverse")
    await client.transfer("BTC", 0.2, "inverse", "spot")
    await client.transfer("USDT", 500, "linear", "spot")
    state = exchange.state
    assert state.coinm["BTC"].wallet_balance == D("0.2")
    assert state.spot["BTC"].free == D("1.1")
    assert state.spot["USDT"].free == D("20500")
    assert [t.type for t in state.transfers] == ["MAIN_CMFUTURE", "CMFUTURE_MAIN", "UMFUTURE_MAIN"]


async def test_fetch_transfers_since_and_limit(client, exchange):
    for amount in (1, 2, 3):
        await client.transfer("USDT", amount, "spot", "linear")
    since = exchange.state.transfers[1].timestamp
    newest_two = await client.fetch_transfers(
        "USDT", since, 2, {"fromAccount": "spot", "toAccount": "linear"}
    )
    assert sorted(t["amount"] for t in newest_two) == [2.0, 3.0]
    await client.load_markets()
    raw = await client.sapiGetAssetTransfer({"type": "MAIN_UMFUTURE", "size": 1, "current": 2})
    assert raw["total"] == 3 and [r["amount"] for r in raw["rows"]] == ["2"]
    empty = await client.sapiGetAssetTransfer({"type": "CMFUTURE_MAIN"})
    assert empty == {"total": 0, "rows": []}  # the documented example always shows rows


async def test_over_transfer_is_refused_without_state_change(client, exchange):
    before = exchange.state
    with pytest.raises(ccxt.ExchangeError, match="-5013") as caught:
        await client.transfer("USDT", 3000.01, "linear", "spot")
    assert "Asset transfer failed: insufficient balance" in str(caught.value)
    with pytest.raises(ccxt.ExchangeError, match="-5013"):
        await client.transfer("USDT", 20000.5, "spot", "linear")
    assert exchange.state == before


async def test_nine_decimals_is_refused_with_1111(client, exchange):
    await client.load_markets()
    before = exchange.state
    # ccxt itself truncates transfer() amounts to the currency's 8 decimals, so send raw
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        await client.sapiPostAssetTransfer(
            {"asset": "USDT", "amount": "1.123456789", "type": "MAIN_UMFUTURE"}
        )
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        await client.sapiPostAssetTransfer({"asset": "USDT", "type": "MAIN_UMFUTURE"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):  # an unknown type reads as malformed
        await client.sapiPostAssetTransfer({"asset": "USDT", "amount": "1", "type": "NOPE"})
    assert exchange.state == before


async def test_wrong_secret_is_refused_with_1022(exchange, client_factory):
    client = client_factory(exchange.base_url, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        await client.fetch_balance({"type": "swap", "subType": "linear"})


async def test_wrong_key_is_refused_with_2015(exchange, client_factory):
    client = client_factory(exchange.base_url, apiKey="not-the-key")
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await client.load_markets()  # even loading markets signs /sapi/v1/capital/config/getall


async def test_server_clock_ahead_gives_1021(client, exchange):
    await client.load_markets()
    exchange.faults.clock_offset_ms = 20_000  # beyond ccxt's default recvWindow of 10 s
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await client.fetch_balance()
    exchange.faults.clock_offset_ms = -2_000  # the client now looks 2 s in the future
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await client.fetch_balance()
    exchange.faults.clock_offset_ms = 0
    await client.fetch_balance()


async def test_unrealized_loss_lowers_max_withdraw_and_profit_does_not_raise_it(client, exchange):
    async def max_withdraw() -> D:
        balance = await client.fetch_balance({"type": "swap", "subType": "linear"})
        return D(balance["info"]["assets"][0]["maxWithdrawAmount"])

    assert await max_withdraw() == D("3000")
    exchange.set_mark_price("ETHUSDT", D("3100"))  # short 5 loses 500; IM 1550
    assert await max_withdraw() == D("2450")
    with pytest.raises(ccxt.ExchangeError, match="-5013"):
        await client.transfer("USDT", 2450.01, "linear", "spot")
    await client.transfer("USDT", 2450, "linear", "spot")
    assert await max_withdraw() == D("0")

    exchange.set_mark_price("ETHUSDT", D("2900"))  # now in profit
    balance = await client.fetch_balance({"type": "swap", "subType": "linear"})
    usdt = balance["info"]["assets"][0]
    assert D(usdt["unrealizedProfit"]) == D("500")
    assert D(usdt["availableBalance"]) > D(usdt["maxWithdrawAmount"])
    assert D(usdt["maxWithdrawAmount"]) == D("2050") - D("1450")  # wallet - IM, no profit


async def test_inverse_loss_lowers_max_withdraw(client, exchange):
    exchange.set_mark_price("BTCUSD_PERP", D("75000"))  # short 30000 USD loses 0.1 BTC
    balance = await client.fetch_balance({"type": "swap", "subType": "inverse"})
    btc = balance["info"]["assets"][0]
    assert D(btc["unrealizedProfit"]) == D("-0.1")
    assert D(btc["maxWithdrawAmount"]) == D("0.3") - D("0.1") - D("0.04")


async def test_state_survives_a_restart(state_path: Path, client_factory):
    async with PaperExchange(StateStore(state_path)) as first:
        client = client_factory(first.base_url)
        await client.transfer("USDT", 777, "spot", "linear")
        first.set_mark_price("ETHUSDT", D("3210"))
        applied = first.state
    async with PaperExchange(StateStore(state_path)) as second:
        assert second.state == applied
        client = client_factory(second.base_url)
        balance = await client.fetch_balance({"type": "swap", "subType": "linear"})
        assert balance["info"]["assets"][0]["walletBalance"] == "5277.00000000"
        transfers = await client.fetch_transfers(
            "USDT", None, None, {"fromAccount": "spot", "toAccount": "linear"}
        )
        assert [t["amount"] for t in transfers] == [777.0]
        result = await client.transfer("USDT", 1, "spot", "linear")
        assert int(result["id"]) == applied.next_tran_id


async def test_plain_http_details(exchange):
    async with aiohttp.ClientSession() as session:
        async with session.get(exchange.base_url + "/api/v3/nothing") as response:
            assert response.status == 404
        async with session.get(exchange.base_url + "/fapi/v1/time") as response:
            assert response.status == 200
            assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
        async with session.delete(exchange.base_url + "/fapi/v1/time") as response:
            assert response.status == 405
        async with session.get(exchange.base_url + "/api/v3/account") as response:
            assert response.status == 401
            assert (await response.json())["code"] == -2014
        async with session.get(
            exchange.base_url + "/fapi/v1/premiumIndex", params={"symbol": "NOPE"}
        ) as response:
            assert response.status == 400
            assert (await response.json()) == {"code": -1121, "msg": "Invalid symbol."}
        async with session.get(
            exchange.base_url + "/dapi/v1/premiumIndex", params={"symbol": "BTCUSD_PERP"}
        ) as response:
            body = await response.json()
            assert isinstance(body, list) and body[0]["pair"] == "BTCUSD"


async def test_custom_credentials(state_path: Path, client_factory):
    store = StateStore(state_path)
    async with PaperExchange(store, api_key="k2", secret="s2") as custom:
        good = client_factory(custom.base_url, apiKey="k2", secret="s2")
        await good.fetch_balance()
        default = client_factory(custom.base_url, apiKey=PAPER_API_KEY, secret=PAPER_SECRET)
        with pytest.raises(ccxt.AuthenticationError):
            await default.fetch_balance()


async def test_serve_forever_reports_its_url_and_stops_on_cancel(state_path: Path, client_factory):
    ready: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        serve_forever(StateStore(state_path), "127.0.0.1", 0, on_ready=ready.put_nowait)
    )
    base_url = await bounded(ready.get())
    assert base_url.startswith("http://127.0.0.1:")
    client = client_factory(base_url)
    assert (await client.fetch_balance())["USDT"]["free"] == 20000.0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
